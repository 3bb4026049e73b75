// s3rver ships no types; the little the storage tests use.
declare module 's3rver' {
  export default class S3rver {
    constructor(opts: { port?: number; address?: string; silent?: boolean; directory: string; configureBuckets?: Array<{ name: string; configs: unknown[] }> });
    run(): Promise<{ port: number; address: string }>;
    close(): Promise<void>;
  }
}
