# outputs.tf: what the deploy workflow, k8s/ (overlays' environment.yaml,
# cluster/cluster.yaml: same names) and the operators need from the AWS side.

output "region" {
  description = "AWS region of the deployment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name (repository variable of the deploy workflow: aws eks update-kubeconfig --name ...)."
  value       = aws_eks_cluster.main.name
}

output "cluster_endpoint" {
  description = "URL of the EKS API server."
  value       = aws_eks_cluster.main.endpoint
}

output "cluster_oidc_issuer_url" {
  description = "OIDC issuer of the cluster's service account tokens (IRSA)."
  value       = aws_eks_cluster.main.identity[0].oidc[0].issuer
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.main.id
}

output "public_subnet_ids" {
  description = "Public subnets, one per zone: the load balancer's nodes and the NAT gateways."
  value       = aws_subnet.public[*].id
}

output "public_subnet_cidrs" {
  description = "Address ranges of the public subnets; the edge trusts X-Forwarded-For from these only (k8s/base: 10.0.0.0/18)."
  value       = aws_subnet.public[*].cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets, one per zone: the nodes and the pods."
  value       = aws_subnet.private[*].id
}

output "ecr_repository_urls" {
  description = "ECR repository URL by name (warden-edge, warden-postgres): where the deploy workflow pushes the images."
  value       = { for name, r in aws_ecr_repository.image : name => r.repository_url }
}

output "github_deploy_role_arn" {
  description = "IAM role the deploy workflow assumes through GitHub's OIDC (repository variable)."
  value       = aws_iam_role.github_deploy.arn
}

output "aws_load_balancer_controller_role_arn" {
  description = "IAM role of the AWS Load Balancer Controller's service account (kube-system/aws-load-balancer-controller)."
  value       = aws_iam_role.aws_load_balancer_controller.arn
}

output "cluster_autoscaler_role_arn" {
  description = "IAM role of the cluster autoscaler's service account (kube-system/cluster-autoscaler)."
  value       = aws_iam_role.cluster_autoscaler.arn
}

output "edge_role_arn" {
  description = "IAM role of the edge's service account (environment.yaml: edge_role_arn)."
  value       = aws_iam_role.edge.arn
}

output "cnpg_backup_role_arn" {
  description = "IAM role of the PostgreSQL instances' service account, for backups (environment.yaml: cnpg_backup_role_arn)."
  value       = aws_iam_role.cnpg_backup.arn
}

output "pg_backups_bucket" {
  description = "S3 bucket of PostgreSQL's backups (environment.yaml: pg_backups_bucket)."
  value       = aws_s3_bucket.pg_backups.id
}

output "backup_kms_key_arn" {
  description = "KMS key of the backups (environment.yaml: backup_kms_key_arn)."
  value       = aws_kms_key.backups.arn
}

output "ebs_kms_key_arn" {
  description = "KMS key of the EBS volumes (k8s/cluster/cluster.yaml: ebs_kms_key_arn)."
  value       = aws_kms_key.ebs.arn
}

output "eks_secrets_kms_key_arn" {
  description = "KMS key encrypting the cluster's Kubernetes Secrets."
  value       = aws_kms_key.eks.arn
}
