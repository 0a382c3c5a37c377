# ecr.tf: the image repositories the deploy workflow pushes to (images
# warden/edge and warden/postgres, tagged with the commit). Tags never move
# (a tag names one build forever, so a rollback gets what was tested), every
# push is scanned, and images are encrypted with the ECR key.

locals {
  repositories = toset(["warden-edge", "warden-postgres"])
}

resource "aws_ecr_repository" "image" {
  for_each = local.repositories

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

resource "aws_ecr_lifecycle_policy" "image" {
  for_each = aws_ecr_repository.image

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last ${var.ecr_keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_keep_images
      }
      action = {
        type = "expire"
      }
    }]
  })
}
