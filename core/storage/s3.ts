// S3-compatible blob store, so several Atrium processes can share files. A write is a multipart
// upload (8 MiB parts, so memory stays bounded whatever the size) that becomes visible only when
// completed, the object-store equivalent of temp -> rename; a failed write aborts the upload.
// Small blobs (under one part) are a single PutObject. Abandoned multipart uploads older than the
// sweeper's grace period are aborted by cleanPartial.
// Checksums are computed only when required: S3-compatible servers that do not know the newer
// flexible-checksum framing otherwise store the framing inside the object (TOOLCHAIN.md).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { AtriumError } from '../errors.ts';
import { KEY_PATTERN, type BlobInfo, type BlobStore } from './adapter.ts';

export interface S3Options {
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

const PART = 8 * 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;

  constructor(private readonly o: S3Options) {
    if (!o.bucket) throw new AtriumError('ATR_STORAGE_CONFIG', 'storage.s3.bucket is required when storage.driver is s3');
    this.client = new S3Client({
      region: o.region || 'us-east-1',
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle,
      ...(o.accessKeyId ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    if (!KEY_PATTERN.test(key)) throw new AtriumError('ATR_NOT_FOUND', 'not a blob key', { status: 404 });
    return `${this.o.prefix}${key}`;
  }

  async put(source: Readable): Promise<string> {
    const key = randomBytes(16).toString('hex');
    const Key = this.objectKey(key);
    const Bucket = this.o.bucket;
    let uploadId: string | undefined;
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    let buf: Buffer[] = [];
    let len = 0;
    const flushPart = async () => {
      if (!uploadId) uploadId = (await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
      const body = Buffer.concat(buf, len);
      buf = [];
      len = 0;
      const r = await this.client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber: parts.length + 1, Body: body, ContentLength: body.length }));
      parts.push({ ETag: r.ETag!, PartNumber: parts.length + 1 });
    };
    try {
      for await (const chunk of source) {
        buf.push(chunk as Buffer);
        len += (chunk as Buffer).length;
        if (len >= PART) await flushPart();
      }
      if (!uploadId) {
        const body = Buffer.concat(buf, len);
        await this.client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length }));
      } else {
        if (len) await flushPart();
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      }
    } catch (err) {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => {});
      throw err;
    }
    return key;
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.objectKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }));
    return r.Body as Readable;
  }

  async size(key: string): Promise<number | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.objectKey(key) }));
      return r.ContentLength ?? null;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.objectKey(key) }));
  }

  async *list(): AsyncIterable<BlobInfo> {
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: this.o.prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) {
        const key = (o.Key ?? '').slice(this.o.prefix.length);
        if (KEY_PATTERN.test(key)) yield { key, modifiedAt: o.LastModified ? o.LastModified.getTime() : 0 };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async cleanPartial(olderThan: number): Promise<number> {
    let n = 0;
    try {
      const r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.o.bucket, Prefix: this.o.prefix }));
      for (const u of r.Uploads ?? []) {
        if (u.Initiated && u.Initiated.getTime() <= olderThan && u.Key && u.UploadId) {
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: u.Key, UploadId: u.UploadId }));
          n++;
        }
      }
    } catch (err) {
      // Some S3-compatible servers do not implement listing uploads; their lifecycle rules clean up instead.
      if ((err as { name?: string }).name !== 'NotImplemented') throw err;
    }
    return n;
  }
}
