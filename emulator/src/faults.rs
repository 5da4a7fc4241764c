//! Fault rules: which request gets which fault (deterministic, seeded per rule).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::{Fault, FaultRule};

/// A rule with its matching state.
pub(crate) struct RuleState {
    pub rule: FaultRule,
    matched: u32,
    rng: SmallRng,
}

impl RuleState {
    pub fn new(rule: FaultRule) -> Self {
        let rng = SmallRng::seed_from_u64(rule.seed.unwrap_or(0));
        Self {
            rule,
            matched: 0,
            rng,
        }
    }
}

/// Picks the fault for a request containing tasks of `task_types`: the first rule that
/// matches, with `RandomTransient` resolved to a concrete fault. Returns the fault and the
/// name logged for it.
pub(crate) fn pick(
    rules: &mut [RuleState],
    task_types: &[String],
) -> Option<(Fault, String, Option<String>)> {
    for state in rules.iter_mut() {
        if let Some(tt) = &state.rule.task_type
            && !task_types.iter().any(|t| t == tt)
        {
            continue;
        }
        state.matched = state.matched.saturating_add(1);
        if let Some(n) = state.rule.first_requests
            && state.matched > n
        {
            continue;
        }
        if let Some(rate) = state.rule.rate
            && state.rng.random::<f64>() >= rate
        {
            continue;
        }
        let fault = match &state.rule.fault {
            Fault::RandomTransient => random_transient(&mut state.rng),
            other => other.clone(),
        };
        let name = match &state.rule.fault {
            Fault::RandomTransient => format!("randomTransient/{}", name(&fault)),
            _ => name(&fault),
        };
        return Some((fault, name, state.rule.task_type.clone()));
    }
    None
}

/// The transient faults `RandomTransient` chooses among.
fn random_transient(rng: &mut SmallRng) -> Fault {
    match rng.random_range(0..10u32) {
        0 => Fault::HttpStatus {
            status: 429,
            retry_after: None,
        },
        1 => Fault::HttpStatus {
            status: 500,
            retry_after: None,
        },
        2 => Fault::HttpStatus {
            status: 502,
            retry_after: None,
        },
        3 => Fault::HttpStatus {
            status: 503,
            retry_after: None,
        },
        4 => Fault::HttpStatus {
            status: 504,
            retry_after: None,
        },
        5 => Fault::TaskError {
            code: "timeoutProvider".into(),
        },
        6 => Fault::TaskError {
            code: "providerRateLimitExceeded".into(),
        },
        7 => Fault::TaskError {
            code: "inferenceError".into(),
        },
        8 => Fault::ResetAfterAccept,
        _ => Fault::TruncatedBody,
    }
}

/// The name of a fault as written in the request log, e.g. `httpStatus:503`.
pub(crate) fn name(fault: &Fault) -> String {
    match fault {
        Fault::HttpStatus { status, .. } => format!("httpStatus:{status}"),
        Fault::TaskError { code } => format!("taskError:{code}"),
        Fault::Latency { ms } => format!("latency:{ms}ms"),
        Fault::ResetAfterAccept => "resetAfterAccept".into(),
        Fault::StalledBody => "stalledBody".into(),
        Fault::TruncatedBody => "truncatedBody".into(),
        Fault::NonJsonBody => "nonJsonBody".into(),
        Fault::WrongTypes => "wrongTypes".into(),
        Fault::OversizedBody { bytes } => format!("oversizedBody:{bytes}"),
        Fault::ReverseOrder => "reverseOrder".into(),
        Fault::ErrorWithoutTaskUuid => "errorWithoutTaskUuid".into(),
        Fault::RandomTransient => "randomTransient".into(),
        Fault::NeverFinish => "neverFinish".into(),
    }
}

/// The message of an injected task error.
pub(crate) fn task_error_message(code: &str) -> &'static str {
    match code {
        "timeoutProvider" => {
            "The external provider did not respond within the timeout window. The request was automatically terminated."
        }
        "providerRateLimitExceeded" => {
            "The provider's rate limit was exceeded. Please retry later."
        }
        "inferenceError" => "An error occurred during inference. Please try again.",
        _ => "The task failed (fault injected by the emulator).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_requests_and_task_type() {
        let mut rules = vec![RuleState::new(
            FaultRule::new(Fault::ReverseOrder)
                .task_type("imageInference")
                .first_requests(2),
        )];
        let ii = vec!["imageInference".to_string()];
        let ms = vec!["modelSearch".to_string()];
        assert!(pick(&mut rules, &ms).is_none());
        assert!(pick(&mut rules, &ii).is_some());
        assert!(pick(&mut rules, &ms).is_none());
        assert!(pick(&mut rules, &ii).is_some());
        assert!(pick(&mut rules, &ii).is_none());
    }

    #[test]
    fn rate_is_seeded_and_deterministic() {
        let run = || {
            let mut rules = vec![RuleState::new(
                FaultRule::new(Fault::RandomTransient).rate(0.3, 7),
            )];
            (0..200)
                .map(|_| pick(&mut rules, &[]).map(|f| f.1))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|x| x.is_some()).count();
        assert!((30..=90).contains(&hits), "{hits} hits at rate 0.3");
    }
}
