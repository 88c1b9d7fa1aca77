//! Liveness: a running child must keep answering its gRPC health check with SERVING.

use std::time::Duration;

use errbot_proto::tonic_health::pb::health_check_response::ServingStatus;
use errbot_proto::tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic::transport::Channel;

use super::policy::Policy;

/// The result of one health check.
pub async fn check(channel: Channel, timeout: Duration) -> Result<(), String> {
    let mut client = HealthClient::new(channel);
    let mut req = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    req.set_timeout(timeout);
    // The header above lets a healthy server give up in time; a stopped one never answers, so
    // the deadline is also enforced here.
    match tokio::time::timeout(timeout, client.check(req)).await {
        Ok(Ok(resp)) => match resp.get_ref().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("its health check answered {}", other.as_str_name())),
        },
        // tonic reports its own client-side deadline as CANCELLED ("Timeout expired").
        Ok(Err(status))
            if matches!(
                status.code(),
                tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
            ) =>
        {
            Err(format!(
                "it did not answer its health check within {:.1} s",
                timeout.as_secs_f64()
            ))
        }
        Ok(Err(status)) => Err(format!("its health check failed: {}", status.message())),
        Err(_) => Err(format!(
            "it did not answer its health check within {:.1} s",
            timeout.as_secs_f64()
        )),
    }
}

/// Checks the child every `health_interval` and returns once `health_failures` checks in a
/// row have failed, with the reason. Never returns while the child is healthy.
pub async fn watch(channel: Channel, policy: &Policy) -> String {
    let mut failures = 0u32;
    let mut tick = tokio::time::interval(policy.health_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // The first tick is immediate; the child just proved healthy.
    loop {
        tick.tick().await;
        match check(channel.clone(), policy.health_timeout).await {
            Ok(()) => failures = 0,
            Err(reason) => {
                failures += 1;
                tracing::warn!(
                    "health check {failures}/{}: {reason}",
                    policy.health_failures
                );
                if failures >= policy.health_failures {
                    return if failures == 1 {
                        reason
                    } else {
                        format!("{reason} ({failures} checks in a row)")
                    };
                }
            }
        }
    }
}
