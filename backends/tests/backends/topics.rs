//! `TopicAdmin` against the real broker (tansu from `make services`).

use std::time::{Duration, Instant};

use crate::support::{closed_port, kafka_brokers, unique};
use chemchat_backends::topics::{DEFAULT_TIMEOUT, TopicAdmin, TopicOutcome, TopicSettings};
use chemchat_backends::{Deleted, Error};

fn admin() -> TopicAdmin {
    TopicAdmin::new(&kafka_brokers(), DEFAULT_TIMEOUT).unwrap()
}

fn settings(partitions: i32, retention_ms: i64) -> TopicSettings {
    TopicSettings {
        partitions,
        replication_factor: 1,
        retention_ms,
    }
}

#[tokio::test]
async fn create_twice_the_second_is_unchanged() {
    let (admin, topic) = (admin(), unique("chemchat.test.events"));
    assert_eq!(
        admin.describe(&topic).await.unwrap(),
        None,
        "not created by describe"
    );
    assert_eq!(
        admin.ensure(&topic, settings(2, 3_600_000)).await.unwrap(),
        TopicOutcome::Created
    );
    assert_eq!(
        admin.ensure(&topic, settings(2, 3_600_000)).await.unwrap(),
        TopicOutcome::Unchanged
    );
    let described = admin.describe(&topic).await.unwrap().unwrap();
    assert_eq!(
        (
            described.partitions,
            described.replication_factor,
            described.retention_ms
        ),
        (2, 1, Some(3_600_000))
    );
    admin.delete(&topic).await.unwrap();
}

// Growing partitions and altering retention need CreatePartitions and AlterConfigs. Real
// Kafka has both; tansu 0.6 (`make services`) offers neither in its ApiVersions, so there the
// tests check the other promise: a clear `Unsupported` naming the API, and nothing half-done.

#[tokio::test]
async fn partitions_grow_from_one_to_three_or_the_missing_api_is_named() {
    let (admin, topic) = (admin(), unique("chemchat.test.events"));
    admin.ensure(&topic, settings(1, 3_600_000)).await.unwrap();
    match admin.ensure(&topic, settings(3, 3_600_000)).await {
        Ok(outcome) => {
            assert_eq!(
                outcome,
                TopicOutcome::Altered {
                    what: vec!["partitions 1 → 3".to_owned()]
                }
            );
            assert_eq!(admin.describe(&topic).await.unwrap().unwrap().partitions, 3);
        }
        Err(err @ Error::Unsupported { api, .. }) => {
            assert_eq!(api, "CreatePartitions");
            let message = err.to_string();
            assert!(
                message.contains(&topic) && message.contains(&kafka_brokers()),
                "{message}"
            );
            assert_eq!(admin.describe(&topic).await.unwrap().unwrap().partitions, 1);
            eprintln!("broker without CreatePartitions: {message}");
        }
        Err(err) => panic!("{err:?}"),
    }
    admin.delete(&topic).await.unwrap();
}

#[tokio::test]
async fn retention_is_altered_or_the_missing_api_is_named() {
    let (admin, topic) = (admin(), unique("chemchat.test.events"));
    admin.ensure(&topic, settings(1, 3_600_000)).await.unwrap();
    match admin.ensure(&topic, settings(1, 7_200_000)).await {
        Ok(outcome) => {
            assert_eq!(
                outcome,
                TopicOutcome::Altered {
                    what: vec!["retention.ms 3600000 → 7200000".to_owned()]
                }
            );
            let described = admin.describe(&topic).await.unwrap().unwrap();
            assert_eq!(described.retention_ms, Some(7_200_000));
            assert_eq!(
                admin.ensure(&topic, settings(1, 7_200_000)).await.unwrap(),
                TopicOutcome::Unchanged
            );
        }
        Err(err @ Error::Unsupported { api, .. }) => {
            assert_eq!(api, "AlterConfigs");
            let described = admin.describe(&topic).await.unwrap().unwrap();
            assert_eq!(described.retention_ms, Some(3_600_000));
            eprintln!("broker without AlterConfigs: {err}");
        }
        Err(err) => panic!("{err:?}"),
    }
    admin.delete(&topic).await.unwrap();
}

#[tokio::test]
async fn shrinking_is_reported_not_ignored() {
    let (admin, topic) = (admin(), unique("chemchat.test.events"));
    admin.ensure(&topic, settings(3, 3_600_000)).await.unwrap();
    let err = admin
        .ensure(&topic, settings(2, 3_600_000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::PartitionsCannotShrink {
                current: 3,
                wanted: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&topic) && message.contains("cannot remove partitions"),
        "{message}"
    );
    assert_eq!(admin.describe(&topic).await.unwrap().unwrap().partitions, 3);
    admin.delete(&topic).await.unwrap();
}

#[tokio::test]
async fn delete_then_already_gone() {
    let (admin, topic) = (admin(), unique("chemchat.test.events"));
    admin.ensure(&topic, settings(1, 3_600_000)).await.unwrap();
    assert_eq!(admin.delete(&topic).await.unwrap(), Deleted::Deleted);
    assert_eq!(admin.describe(&topic).await.unwrap(), None);
    assert_eq!(admin.delete(&topic).await.unwrap(), Deleted::AlreadyGone);
}

#[tokio::test]
async fn bad_settings_are_refused_before_any_call() {
    let err = admin()
        .ensure(&unique("chemchat.test.events"), settings(0, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                what: "partitions",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_broker_is_named_within_seconds() {
    let brokers = closed_port();
    let admin = TopicAdmin::new(&brokers, Duration::from_secs(2)).unwrap();
    let started = Instant::now();
    let err = admin
        .ensure("chemchat.test.events", settings(1, 1))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.is_unreachable(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&brokers) && message.contains("unreachable"),
        "{message}"
    );
    let started = Instant::now();
    assert!(
        admin
            .delete("chemchat.test.events")
            .await
            .unwrap_err()
            .is_unreachable()
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
}
