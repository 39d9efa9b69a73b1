// Object storage on S3 (LocalStack inside vers): product images, digital downloads, invoices
// and packing slips, and presigned URLs for browsers.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** An S3 client for `config.s3` (path-style: bucket names are not host names here). */
export function createS3(config) {
  // The SDK versions locked here support Node 20 (the runtime this example targets); only
  // releases from 2027 on will not, which is what its start-up warning is about.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey },
  });
}

/** Stores `body` at `bucket/key`. */
export async function putObject(s3, bucket, key, body, contentType, metadata = {}) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata }));
}

/** `{ body: Buffer, contentType, metadata }` of an object, or null when it does not exist. */
export async function getObject(s3, bucket, key) {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return {
      body: Buffer.from(await out.Body.transformToByteArray()),
      contentType: out.ContentType,
      metadata: out.Metadata ?? {},
    };
  } catch (err) {
    if (err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

/** Whether `bucket/key` exists. */
export async function objectExists(s3, bucket, key) {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if (err?.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** Deletes `bucket/key` (no error when it is already gone). */
export async function deleteObject(s3, bucket, key) {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Keys under `prefix` in `bucket`. */
export async function listKeys(s3, bucket, prefix) {
  const keys = [];
  let token;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** A URL that lets its holder GET `bucket/key` for `seconds`. */
export function presignedGet(s3, bucket, key, seconds = 900) {
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
}

/** A URL that lets its holder PUT `bucket/key` with `contentType` for `seconds`. */
export function presignedPut(s3, bucket, key, contentType, seconds = 900) {
  return getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType }), { expiresIn: seconds });
}
