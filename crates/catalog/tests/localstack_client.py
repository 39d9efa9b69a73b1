"""boto3 against a vers `localstack` service: checks what the template set up, writes, and
reads back what a copy of the data directory must hold.

    python localstack_client.py COMMAND ENDPOINT
"""

import json
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

ENDPOINT = sys.argv[2]


def client(name):
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )


def preflight(bucket, key, origin, method):
    """A browser's CORS preflight; returns the allowed origin header or the HTTP status."""
    req = urllib.request.Request(
        f"{ENDPOINT}/{bucket}/{key}",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": method},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as e:
        return e.code


def s3_setup():
    """The seed's buckets, with their CORS rules and ACL applied and readable back."""
    s3 = client("s3")
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert names == ["order-invoices", "product-images"], names
    rules = s3.get_bucket_cors(Bucket="product-images")["CORSRules"]
    assert rules == [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}], rules
    grants = s3.get_bucket_acl(Bucket="order-invoices")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], grants
    assert grants[0]["Grantee"]["Type"] == "CanonicalUser", grants
    try:
        s3.get_bucket_cors(Bucket="order-invoices")
        raise AssertionError("order-invoices has CORS rules it was not given")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchCORSConfiguration", e.response
    # The rules are applied, not only stored: a browser's preflight is answered by them.
    assert preflight("product-images", "x.png", "https://shop.example", "PUT") in ("*", "https://shop.example")
    assert preflight("product-images", "x.png", "https://shop.example", "DELETE") == 403


def s3_write():
    s3 = client("s3")
    s3.put_object(Bucket="product-images", Key="shoes/1.png", Body=b"\x89PNG" + bytes(range(256)) * 64, ContentType="image/png")
    s3.put_object(Bucket="order-invoices", Key="2024/inv-1.pdf", Body=b"%PDF invoice 1")
    upload = s3.create_multipart_upload(Bucket="order-invoices", Key="big.bin")
    parts = []
    for n, fill in ((1, b"a"), (2, b"b")):
        size = 5 << 20 if n == 1 else 1024
        etag = s3.upload_part(Bucket="order-invoices", Key="big.bin", PartNumber=n, UploadId=upload["UploadId"], Body=fill * size)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket="order-invoices", Key="big.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})
    s3.put_object(Bucket="product-images", Key="gone.png", Body=b"x")
    s3.delete_object(Bucket="product-images", Key="gone.png")


def s3_read():
    s3_setup()
    s3 = client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="product-images").get("Contents", []))
    assert keys == ["shoes/1.png"], keys
    obj = s3.get_object(Bucket="product-images", Key="shoes/1.png")
    assert obj["Body"].read() == b"\x89PNG" + bytes(range(256)) * 64
    assert obj["ContentType"] == "image/png", obj["ContentType"]
    assert s3.get_object(Bucket="order-invoices", Key="2024/inv-1.pdf")["Body"].read() == b"%PDF invoice 1"
    big = s3.get_object(Bucket="order-invoices", Key="big.bin")
    assert big["ContentLength"] == (5 << 20) + 1024, big["ContentLength"]
    assert big["ETag"].endswith('-2"'), big["ETag"]
    body = big["Body"].read()
    assert body[:3] == b"aaa" and body[-3:] == b"bbb"


def queue_url(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def messaging_setup():
    """Queues with their attributes and dead-letter queue, a topic delivering to a queue."""
    sqs = client("sqs")
    orders = queue_url(sqs, "orders")
    attrs = sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "7", attrs
    dlq_arn = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, "orders-dlq"), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}, attrs
    sns = client("sns")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert [t.rsplit(":", 1)[1] for t in topics] == ["order-events"], topics
    subs = sns.list_subscriptions_by_topic(TopicArn=topics[0])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"].rsplit(":", 1)[1]) for s in subs] == [("sqs", "orders")], subs


def receive_all(sqs, url):
    bodies = []
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def messaging_write():
    sqs = client("sqs")
    orders = queue_url(sqs, "orders")
    sqs.send_message(QueueUrl=orders, MessageBody="order-1")
    sqs.send_message(QueueUrl=orders, MessageBody="order-2")
    client("secretsmanager").create_secret(Name="payments/api-key", SecretString="sk_test_123")


def messaging_read():
    """In the copy: the queued messages, the subscription delivering, the secret."""
    messaging_setup()
    sqs = client("sqs")
    sns = client("sns")
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.publish(TopicArn=topic, Message="order-3")
    bodies = receive_all(sqs, queue_url(sqs, "orders"))
    notes = sorted(json.loads(b)["Message"] if b.startswith("{") else b for b in bodies)
    assert notes == ["order-1", "order-2", "order-3"], bodies
    secret = client("secretsmanager").get_secret_value(SecretId="payments/api-key")["SecretString"]
    assert secret == "sk_test_123", secret


COMMANDS = {
    "s3-setup": s3_setup,
    "s3-write": s3_write,
    "s3-read": s3_read,
    "messaging-setup": messaging_setup,
    "messaging-write": messaging_write,
    "messaging-read": messaging_read,
}

COMMANDS[sys.argv[1]]()
print("ok")
