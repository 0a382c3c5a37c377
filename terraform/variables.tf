# variables.tf: what an operator may choose. Defaults give the specified
# deployment: us-east-1, three zones, a /16 VPC, EKS 1.33, 2 to 20 edges.

variable "project" {
  description = "Name of the project: prefix of every resource name and the EKS cluster's name."
  type        = string
  default     = "warden"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2 to 31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the whole deployment. The deployment is specified for us-east-1; the zones below must be in it."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = var.region == "us-east-1"
    error_message = "warden's deployment is specified for us-east-1."
  }
}

variable "availability_zones" {
  description = "The three availability zones the VPC, the NAT gateways, the node groups and every replicated service spread over."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition = (
      length(var.availability_zones) == 3 &&
      length(distinct(var.availability_zones)) == 3 &&
      alltrue([for z in var.availability_zones : can(regex("^[a-z]{2}-[a-z]+-[0-9][a-z]$", z))])
    )
    error_message = "availability_zones must name exactly three distinct zones, like us-east-1a."
  }
}

variable "vpc_cidr" {
  description = "Address range of the VPC. Public subnets take the first three /20s (10.0.0.0/18 with the default, the range k8s/ trusts as the load balancer's), private subnets one /18 each after them."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16")
    error_message = "vpc_cidr must be an IPv4 /16."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version; k8s/ is validated against this version's API schemas (1.33)."
  type        = string
  default     = "1.33"
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node groups (one group per zone)."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_min_size" {
  description = "Fewest nodes in each zone's node group (at least 1, so every zone can hold the edges, a PostgreSQL instance and a RabbitMQ node)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_size >= 1
    error_message = "node_min_size must be at least 1: every zone needs a node."
  }
}

variable "node_max_size" {
  description = "Most nodes in each zone's node group; the cluster autoscaler adds nodes up to it when pods (20 edges at most) do not fit."
  type        = number
  default     = 6
}

variable "node_desired_size" {
  description = "Nodes each zone's group starts with; the cluster autoscaler changes it afterwards."
  type        = number
  default     = 2
}

variable "node_disk_size_gb" {
  description = "Root volume of each node, in GiB (gp3, encrypted with the EBS key)."
  type        = number
  default     = 50
}

variable "create_autoscaling_service_linked_role" {
  description = "Make EC2 Auto Scaling's service-linked role (AWSServiceRoleForAutoScaling), which the EBS key's policy names; true only in an account that has never used Auto Scaling."
  type        = bool
  default     = false
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "Addresses allowed to reach the EKS API's public endpoint (the deploy workflow's runners and operators). Nodes use the private endpoint."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "k8s_namespaces" {
  description = "Kubernetes namespaces of the environments (k8s/overlays): their service accounts may assume the edge and backup roles."
  type        = list(string)
  default     = ["warden-staging", "warden"]
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose Actions workflows may assume the deploy role, from its staging and production environments and the main branch."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing IAM OIDC provider for token.actions.githubusercontent.com in the account; empty makes one (an account has at most one)."
  type        = string
  default     = ""
}

variable "backup_noncurrent_days" {
  description = "Days a replaced or deleted backup object version is kept in the bucket (CloudNativePG's retention policy deletes backups it no longer needs; versioning keeps them this much longer)."
  type        = number
  default     = 30
}

variable "ecr_keep_images" {
  description = "Images kept per ECR repository; older ones are expired (rollbacks need the recent ones)."
  type        = number
  default     = 100
}
