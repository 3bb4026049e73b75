// Types for frames.js (plain JavaScript, shared with the crypto worker).
export declare const CHUNK: number;
export declare const TAG: number;
export declare class IntegrityFailure extends Error {
  constructor(detail: string, cause?: unknown);
}
export declare function sealChunk(key: Buffer, prefix: Buffer, bind: Buffer, index: number, last: boolean, plain: Buffer): [Buffer, Buffer];
export declare function openChunk(key: Buffer, prefix: Buffer, bind: Buffer, index: number, last: boolean, ct: Buffer, tag: Buffer): Buffer;
export declare function sealFrames(key: Buffer, prefix: Buffer, bind: Buffer, src: Buffer, first: number, last: boolean, out: Buffer): number;
export declare function openFrames(key: Buffer, prefix: Buffer, bind: Buffer, src: Buffer, first: number, size: number, out: Buffer): number;
