# versions.tf: the Terraform and provider versions warden's AWS side is
# written and checked against, pinned exactly so that a plan means the same
# thing on every machine.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
    # The EKS OIDC issuer's certificate thumbprint, for IRSA.
    tls = {
      source  = "hashicorp/tls"
      version = "4.0.6"
    }
  }
}
