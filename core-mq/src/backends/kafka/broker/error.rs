//! Mapping `rdkafka` errors into the shared kinds.

use core_error::{Error, ErrorKind};
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};

/// Maps a driver error, recording which operation and topic it was about.
pub(crate) fn map(err: KafkaError, operation: &'static str, topic: &str) -> Error {
    let kind = match &err {
        KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) => ErrorKind::InvalidInput,
        KafkaError::Canceled => ErrorKind::Unavailable,
        KafkaError::AdminOp(code) => kind_of(*code),
        other => other
            .rdkafka_error_code()
            .map_or(ErrorKind::Internal, kind_of),
    };
    from_kind(kind, operation, topic).with_source(err)
}

/// An error for a bare error code (admin results carry only the code).
pub(crate) fn map_code(code: Code, operation: &'static str, topic: &str) -> Error {
    from_kind(kind_of(code), operation, topic).with_context("code", format!("{code:?}"))
}

fn from_kind(kind: ErrorKind, operation: &'static str, topic: &str) -> Error {
    Error::new(kind, describe(kind))
        .with_operation(operation)
        .with_backend(super::BACKEND)
        .with_key(topic)
}

pub(crate) fn kind_of(code: Code) -> ErrorKind {
    match code {
        Code::MessageSizeTooLarge
        | Code::InvalidMessageSize
        | Code::InvalidTopic
        | Code::InvalidPartitions
        | Code::InvalidReplicationFactor
        | Code::InvalidConfig
        | Code::InvalidArgument => ErrorKind::InvalidInput,
        Code::TopicAuthorizationFailed
        | Code::GroupAuthorizationFailed
        | Code::ClusterAuthorizationFailed => ErrorKind::PermissionDenied,
        Code::SaslAuthenticationFailed | Code::Authentication => ErrorKind::Unauthenticated,
        Code::MessageTimedOut | Code::RequestTimedOut | Code::OperationTimedOut => {
            ErrorKind::Timeout
        }
        Code::BrokerTransportFailure
        | Code::AllBrokersDown
        | Code::Resolve
        | Code::NetworkException
        | Code::LeaderNotAvailable
        | Code::NotLeaderForPartition
        | Code::BrokerNotAvailable
        | Code::ReplicaNotAvailable
        | Code::NotEnoughReplicas
        | Code::NotEnoughReplicasAfterAppend
        | Code::NotCoordinator
        | Code::CoordinatorNotAvailable
        | Code::CoordinatorLoadInProgress
        | Code::RebalanceInProgress
        | Code::UnknownTopicOrPartition
        | Code::UnknownPartition
        | Code::QueueFull
        | Code::State => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "Kafka did not answer in time",
        ErrorKind::Unavailable => "Kafka is unreachable or the partition has no leader right now",
        ErrorKind::Unauthenticated => "Kafka rejected the credentials",
        ErrorKind::PermissionDenied => "Kafka denied access to the topic or group",
        ErrorKind::InvalidInput => {
            "Kafka refused the request (message too large, bad topic or client setting)"
        }
        _ => "Kafka failed the request",
    }
}
