//! Authorize, the second stage: whether a call may run. The access rules first
//! ([`crate::acl::check`]: nothing else happens for a refused command), then the plugins'
//! command filters ([`crate::cmdfilter`]), which may rewrite the call (checked against the rules
//! again) or block it, then flows: the call is the next step of the sender's flow
//! ([`crate::flows::Flows::waiting`]) or the first of a flow it starts
//! ([`crate::flows::Flows::would_start`]), or a `flow_only` command that cannot run outside
//! one (ignored, as Errbot does). Flow steps that run by themselves enter the pipeline here.

use std::sync::Arc;

use super::Job;
use super::audit::Outcome;
use super::route::Call;
use crate::acl;
use crate::cmdfilter;
use crate::registry::Command;

/// Lets `call` through the access rules and the command filters: the call to run (perhaps
/// rewritten by a filter), or why not when it was refused or blocked (the sender was told,
/// unless `hide_restricted_access`).
pub async fn authorize(job: &Job<'_>, call: Call) -> Result<Call, Outcome> {
    refused(job, &call.command, &call.checked_args).await?;
    // Boxed, as the command's own run: a message's future stays small, so that spawning and
    // finishing its task copies little (measured: a 12 KB future cost about 10% of errbotd's
    // CPU in memmove).
    let filtered = Box::pin(cmdfilter::apply(
        job.bot,
        job.registry,
        job.sink,
        job.message,
        &call.command,
        &call.checked_args,
        job.is_admin,
    ))
    .await;
    let call = match filtered {
        cmdfilter::Outcome::Blocked => return Err(Outcome::Blocked),
        cmdfilter::Outcome::Run {
            command,
            args,
            changed,
        } => {
            if changed {
                refused(job, &command, &args).await?;
            }
            if command.is_regex() {
                Call { command, ..call }
            } else if changed {
                Call::plain(command, args)
            } else {
                call
            }
        }
    };
    // Flows, only when there are some: a bot without flows pays nothing here.
    let call = match call.step {
        None if !job.bot.flows.is_idle() || job.registry.has_flows() => {
            let (flows, who) = (&job.bot.flows, super::place(job));
            let name = &call.command.name;
            let step = flows
                .waiting(job.registry, &who, name)
                .or_else(|| flows.would_start(job.registry, &who, name))
                .map(Box::new);
            Call { step, ..call }
        }
        _ => call,
    };
    if call.command.spec.flow_only && call.step.as_ref().is_none_or(|s| s.starts) {
        return Err(Outcome::NotInFlow);
    }
    Ok(call)
}

/// Checks `command` with `args` against the access rules; when refused, tells the sender
/// (unless `hide_restricted_access`) and answers why.
async fn refused(job: &Job<'_>, command: &Arc<Command>, args: &str) -> Result<(), Outcome> {
    let backend = job.sink.backend();
    let inv = acl::invocation(command, job.message, backend, Some(args), job.is_admin);
    let Err(denial) = acl::check(&job.config.access, &inv) else {
        return Ok(());
    };
    tracing::info!(
        command = %command.name, sender = %inv.sender, %backend,
        "refused: {}", denial.reply()
    );
    if !job.config.access.hide_restricted_access {
        job.sink.send_text(denial.reply(), false).await;
    }
    Err(Outcome::Refused(denial.reply()))
}
