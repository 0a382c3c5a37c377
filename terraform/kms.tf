# kms.tf: customer-managed keys (AES-256, yearly automatic rotation) for
# everything at rest: EBS volumes (nodes, PostgreSQL and RabbitMQ volumes),
# Kubernetes Secrets in etcd, PostgreSQL's backups in S3, and the images in
# ECR. One key per use, so that access to one never opens another.

data "aws_iam_policy_document" "kms_ebs" {
  # The account administers the key through IAM.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # EC2 Auto Scaling launches the nodes with encrypted root volumes.
  statement {
    sid = "AutoScalingUsesTheKey"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }

  statement {
    sid       = "AutoScalingGrantsToEC2"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

# EC2 Auto Scaling launches the nodes through its service-linked role, which
# the EBS key's policy names; a new account has none until one is made.
resource "aws_iam_service_linked_role" "autoscaling" {
  count            = var.create_autoscaling_service_linked_role ? 1 : 0
  aws_service_name = "autoscaling.amazonaws.com"
}

resource "aws_kms_key" "ebs" {
  description             = "${var.project}: EBS volumes (nodes, PostgreSQL, RabbitMQ)"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_ebs.json

  depends_on = [aws_iam_service_linked_role.autoscaling]
}

resource "aws_kms_alias" "ebs" {
  name          = "alias/${var.project}-ebs"
  target_key_id = aws_kms_key.ebs.key_id
}

resource "aws_kms_key" "eks" {
  description             = "${var.project}: Kubernetes Secrets (EKS envelope encryption)"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "eks" {
  name          = "alias/${var.project}-eks-secrets"
  target_key_id = aws_kms_key.eks.key_id
}

resource "aws_kms_key" "backups" {
  description             = "${var.project}: PostgreSQL backups in S3"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "backups" {
  name          = "alias/${var.project}-pg-backups"
  target_key_id = aws_kms_key.backups.key_id
}

resource "aws_kms_key" "ecr" {
  description             = "${var.project}: container images in ECR"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "ecr" {
  name          = "alias/${var.project}-ecr"
  target_key_id = aws_kms_key.ecr.key_id
}

# Every new EBS volume in the region is encrypted, with the EBS key unless
# it names another.
resource "aws_ebs_encryption_by_default" "main" {
  enabled = true
}

resource "aws_ebs_default_kms_key" "main" {
  key_arn = aws_kms_key.ebs.arn
}
