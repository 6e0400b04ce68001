//! Leader election over a `coordination.k8s.io/v1` Lease, so two replicas never both write.
//!
//! kube-runtime 5 ships no elector, so this is the small classic algorithm: hold the Lease by
//! renewing it well inside its duration; take it over only once it has expired; every write
//! carries the `resourceVersion` read, so two candidates racing for it cannot both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};

use crate::error::Result;

/// What a candidate should do with the Lease as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// We hold it: renew.
    Renew,
    /// Nobody holds it or it expired: take it.
    Acquire,
    /// Someone else holds a live lease.
    Follow(String),
}

/// Pure decision from the Lease spec, our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    match spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) {
        Some(MicroTime(renewed)) if renewed.saturating_add(duration).unwrap_or(*renewed) > now => {
            Decision::Follow(holder.to_owned())
        }
        _ => Decision::Acquire,
    }
}

/// One candidate for one Lease.
#[derive(Clone, Debug)]
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaseLock {
    /// A candidate named `identity` for Lease `name` in the namespace of `api`.
    pub fn new(api: Api<Lease>, name: &str, identity: &str, duration: Duration) -> Self {
        Self {
            api,
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
        }
    }

    /// How often the holder should renew: a third of the duration leaves two retries.
    pub fn renew_interval(&self) -> Duration {
        self.duration / 3
    }

    fn spec(&self, previous: Option<&LeaseSpec>, now: Timestamp, acquiring: bool) -> LeaseSpec {
        let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.duration.as_secs()).unwrap_or(15)),
            acquire_time: if acquiring {
                Some(MicroTime(now))
            } else {
                previous.and_then(|s| s.acquire_time.clone())
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if acquiring && previous.is_some() {
                transitions + 1
            } else {
                transitions
            }),
            ..LeaseSpec::default()
        }
    }

    /// Tries once to become or stay the leader; `Ok(false)` means someone else leads.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let conflict = |err: &kube::Error| matches!(err, kube::Error::Api(s) if s.is_conflict() || s.is_already_exists());
        match self.api.get_opt(&self.name).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(None, now, true)),
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(err) if conflict(&err) => Ok(false),
                    Err(err) => Err(err.into()),
                }
            }
            Some(mut lease) => {
                let acquiring = match decide(lease.spec.as_ref(), &self.identity, now) {
                    Decision::Follow(_) => return Ok(false),
                    Decision::Renew => false,
                    Decision::Acquire => true,
                };
                lease.spec = Some(self.spec(lease.spec.as_ref(), now, acquiring));
                // `replace` sends the resourceVersion we read: a concurrent writer makes it 409.
                match self
                    .api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(err) if conflict(&err) => Ok(false),
                    Err(err) => Err(err.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn held(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(at(renewed))),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "a", at(100)), Decision::Acquire);
        assert_eq!(decide(Some(&held("a", 90)), "a", at(100)), Decision::Renew);
        assert_eq!(
            decide(Some(&held("b", 90)), "a", at(100)),
            Decision::Follow("b".into())
        );
        assert_eq!(
            decide(Some(&held("b", 80)), "a", at(100)),
            Decision::Acquire,
            "expired"
        );
        assert_eq!(
            decide(Some(&held("", 99)), "a", at(100)),
            Decision::Acquire,
            "released"
        );
    }
}
