"""vers's steps for a `localstack` service, run with the Python of LocalStack's virtual
environment (boto3 comes with it).

    python -c SCRIPT setup PLAN_JSON   create the configured buckets, queues and topics
    python -c SCRIPT save              have the server write its state into its data directory

The endpoint comes from AWS_ENDPOINT_URL.
"""

import json
import os
import sys
import urllib.request


def client(name):
    import boto3
    from botocore.config import Config

    return boto3.client(
        name,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def attribute(value):
    """SQS and SNS attributes are strings; maps and lists (RedrivePolicy) are JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def buckets(plan):
    s3 = client("s3")
    for bucket in plan["s3_buckets"]:
        name = bucket["name"]
        s3.create_bucket(Bucket=name)
        if bucket.get("acl"):
            s3.put_bucket_acl(Bucket=name, ACL=bucket["acl"])
        if bucket.get("cors"):
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": bucket["cors"]})
        print(f"bucket {name}")


def queue_arn(sqs, name):
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queues(plan):
    sqs = client("sqs")
    # Dead-letter queues first, so the queues naming them in a RedrivePolicy find them.
    for queue in sorted(plan["sqs_queues"], key=lambda q: not q.get("is_dlq")):
        attributes = dict(queue.get("attributes") or {})
        if queue["name"].endswith(".fifo"):
            attributes.setdefault("FifoQueue", True)
        redrive = attributes.get("RedrivePolicy")
        if isinstance(redrive, dict):
            target = str(redrive.get("deadLetterTargetArn", ""))
            if target and not target.startswith("arn:"):
                redrive = dict(redrive, deadLetterTargetArn=queue_arn(sqs, target))
                attributes["RedrivePolicy"] = redrive
        sqs.create_queue(
            QueueName=queue["name"],
            Attributes={k: attribute(v) for k, v in attributes.items()},
        )
        print(f"queue {queue['name']}")


def topics(plan):
    sns = client("sns")
    sqs = client("sqs")
    for topic in plan["sns_topics"]:
        attributes = {"FifoTopic": "true"} if topic["name"].endswith(".fifo") else {}
        arn = sns.create_topic(Name=topic["name"], Attributes=attributes)["TopicArn"]
        for sub in topic.get("subscriptions") or []:
            endpoint = sub["endpoint"]
            if sub["protocol"] == "sqs" and not endpoint.startswith("arn:"):
                endpoint = queue_arn(sqs, endpoint)
            sns.subscribe(TopicArn=arn, Protocol=sub["protocol"], Endpoint=endpoint)
        print(f"topic {topic['name']}")


def save():
    url = os.environ["AWS_ENDPOINT_URL"].rstrip("/") + "/_vers/save"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=60) as r:
        print(r.read().decode().strip())


def main():
    if sys.argv[1] == "setup":
        plan = json.loads(sys.argv[2])
        buckets(plan)
        queues(plan)
        topics(plan)
    elif sys.argv[1] == "save":
        save()
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


main()
