//! `accountManagement`: `operation: "getDetails"` reports the emulator's one account, with the
//! live balance that billed tasks lower:
//!
//! ```json
//! {"taskType":"accountManagement","taskUUID":"…","operation":"getDetails",
//!  "organizationName":"Runware Emulator","organizationUUID":"…",
//!  "balance":{"amount":999.98,"freeBalance":0,"currency":"USD"},
//!  "team":[{"name":"Emulator User","email":"user@emulator.invalid","role":"owner"}],
//!  "apiKeys":[{"name":"emulator","enabled":true}]}
//! ```
//!
//! The usage operations (`getUsageActivity`, `getUsagePerformance`, `getUsageErrors`) answer a
//! minimal item: `operation`, the `startDate`/`endDate` sent, and an empty `usage` object (the
//! emulator keeps no usage history). Any other operation is `invalidOperation`. Read-only and
//! never registered, so the taskUUID may be reused; never billed, so it works at a zero balance.
//! API keys are never echoed.

use serde_json::json;

use super::{Keyed, Kind, TaskType, ack, item};
use crate::dispatch::Output;
use crate::state::Shared;
use crate::validate::TaskCtx;

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["accountManagement"],
    doc: "https://runware.ai/docs/en/utilities/account-management",
    kind: Kind::Keyed(Keyed::Query(answer)),
};

/// The organisation the emulator reports (fixed, so that clients can compare it across calls).
const ORGANIZATION_UUID: &str = "6f0a3c2e-8d4b-4e1f-9a7c-00000000e001";

fn answer(shared: &Shared, _owner: &str, ctx: &TaskCtx<'_>, dry_run: bool) -> Output {
    let op = match ctx.one_of(
        "operation",
        "Operation",
        &[
            "getDetails",
            "getUsageActivity",
            "getUsagePerformance",
            "getUsageErrors",
        ],
        false,
        true,
    ) {
        Ok(op) => op.unwrap_or("getDetails"),
        Err(e) => return Output::Error(e),
    };
    for date in ["startDate", "endDate"] {
        if let Err(e) = ctx.string(date, date, 1, 64, false) {
            return Output::Error(e);
        }
    }
    if dry_run {
        return Output::Data(vec![ack(ctx)]);
    }
    let out = if op == "getDetails" {
        item(
            ctx,
            json!({
                "operation": op,
                "organizationName": "Runware Emulator",
                "organizationUUID": ORGANIZATION_UUID,
                "balance": {
                    "amount": shared.balance(),
                    "freeBalance": 0.0,
                    "currency": "USD",
                },
                "team": [{"name": "Emulator User", "email": "user@emulator.invalid", "role": "owner"}],
                "apiKeys": [{"name": "emulator", "enabled": true}],
            }),
        )
    } else {
        let mut extra = json!({"operation": op, "usage": {}});
        for date in ["startDate", "endDate"] {
            if let (Some(v), Some(o)) = (
                ctx.task.get(date).filter(|v| v.is_string()),
                extra.as_object_mut(),
            ) {
                o.insert(date.to_string(), v.clone());
            }
        }
        item(ctx, extra)
    };
    Output::Data(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_uuid_is_a_uuid() {
        assert!(uuid::Uuid::parse_str(ORGANIZATION_UUID).is_ok());
    }
}
