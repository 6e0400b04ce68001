//! What a tenant's S3 user is called and what it may do: pure, so the operator's status, the
//! tests and the IAM calls agree.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// IAM path of every tenant user, so an administrator lists them with `--path-prefix /chemchat/`.
pub const USER_PATH: &str = "/chemchat/";
/// Name of the user's one inline policy.
pub const MEDIA_POLICY_NAME: &str = "chemchat-media";

/// IAM allows user names of 64 characters at most.
const MAX_USER_NAME: usize = 64;

/// The IAM user of `tenant` for media in `bucket`: `chemchat-<tenant>-<16 hex>`, the hex from
/// SHA-256 over both. IAM user names are unique per AWS account, which several installations
/// (or tests) may share, each with a tenant `acme`: the bucket tells them apart. A tenant id
/// (a DNS label, up to 63 characters) is cut to fit IAM's 64; the hash keeps cut names apart.
pub fn tenant_user(bucket: &str, tenant: &str) -> String {
    let digest = Sha256::new()
        .chain_update(bucket.as_bytes())
        .chain_update([0u8])
        .chain_update(tenant.as_bytes())
        .finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let room = MAX_USER_NAME - "chemchat-".len() - 1 - hex.len();
    let shown: String = tenant.chars().take(room).collect();
    format!("chemchat-{shown}-{hex}")
}

/// The ARN partition of a region: S3 ARNs in China and GovCloud are not `arn:aws:`.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The inline policy of `tenant`'s user: exactly what the server does with media, on the
/// objects under `<tenant>/` and nothing else.
///
/// - `s3:PutObject` (PutObject and the multipart upload's Create/UploadPart/Complete, and the
///   presigned PUT of direct uploads), `s3:AbortMultipartUpload` (a failed upload);
/// - `s3:GetObject` (GetObject, HeadObject, presigned downloads);
/// - `s3:DeleteObject` (DeleteObjects checks it per key);
/// - `s3:ListBucket` only for listings whose prefix lies under `<tenant>/` (a media item's
///   variants before deleting them, and the `/health` probe): without the condition a tenant
///   could list every tenant's keys.
///
/// The `/` after the tenant matters: tenant `acme` must not reach `acme-corp/`.
pub fn media_policy(region: &str, bucket: &str, tenant: &str) -> Value {
    let partition = partition(region);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TenantObjects",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": format!("arn:{partition}:s3:::{bucket}/{tenant}/*"),
            },
            {
                "Sid": "TenantListing",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": format!("arn:{partition}:s3:::{bucket}"),
                "Condition": { "StringLike": { "s3:prefix": [format!("{tenant}/*")] } },
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_fit_iam_and_differ_per_bucket_and_tenant() {
        let acme = tenant_user("media", "acme");
        assert!(acme.starts_with("chemchat-acme-"), "{acme}");
        assert_eq!(acme, tenant_user("media", "acme"));
        assert_ne!(acme, tenant_user("other-media", "acme"));
        assert_ne!(acme, tenant_user("media", "acme2"));
        let long = "a".repeat(63);
        let cut = tenant_user("media", &long);
        assert_eq!(cut.len(), 64, "{cut}");
        assert_ne!(cut, tenant_user("media", &format!("{}b", "a".repeat(62))));
        assert!(
            cut.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        );
    }

    #[test]
    fn the_policy_reaches_the_tenant_prefix_only() {
        let policy = media_policy("eu-west-1", "media", "acme");
        let objects = &policy["Statement"][0];
        assert_eq!(objects["Resource"], "arn:aws:s3:::media/acme/*");
        assert_eq!(objects["Effect"], "Allow");
        let listing = &policy["Statement"][1];
        assert_eq!(listing["Action"], "s3:ListBucket");
        assert_eq!(listing["Resource"], "arn:aws:s3:::media");
        assert_eq!(
            listing["Condition"]["StringLike"]["s3:prefix"],
            json!(["acme/*"])
        );
        // No wildcard actions, nothing on other buckets or on the bucket's settings.
        let text = policy.to_string();
        assert!(!text.contains("s3:*") && !text.contains("\"*\""), "{text}");
        assert_eq!(
            media_policy("cn-north-1", "media", "acme")["Statement"][0]["Resource"],
            "arn:aws-cn:s3:::media/acme/*"
        );
    }
}
