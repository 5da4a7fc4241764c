//! `modelSearch`: validates the request against the catalog's own lists and limits, then runs
//! [`catalog::search`]; one item with `totalResults` and `results`. Never registered.

use serde_json::{Value, json};

use super::{Keyed, Kind, TaskType, ack};
use crate::catalog;
use crate::dispatch::Output;
use crate::state::Shared;
use crate::validate::{ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["modelSearch"],
    doc: "https://runware.ai/docs/en/utilities/model-search",
    kind: Kind::Keyed(Keyed::Query(answer)),
};

/// A dry run only validates: it answers the acknowledgement.
fn answer(_shared: &Shared, _owner: &str, ctx: &TaskCtx<'_>, dry_run: bool) -> Output {
    match parse(ctx) {
        Ok(_) if dry_run => Output::Data(vec![ack(ctx)]),
        Ok(query) => {
            let page = catalog::search(&query);
            Output::Data(vec![json!({
                "taskType": ctx.task_type,
                "taskUUID": ctx.task_uuid,
                "totalResults": page.total_results,
                "results": page.results,
            })])
        }
        Err(e) => Output::Error(e),
    }
}

/// The request as a catalog query, or its first invalid parameter.
fn parse(ctx: &TaskCtx<'_>) -> Result<catalog::SearchQuery, ApiError> {
    let exact = |param: &str, what: &str, values: &[&'static str]| {
        ctx.one_of(param, what, values, false, false)
            .map(|v| v.map(str::to_string))
    };
    let search = ctx
        .string("search", "Search", 0, catalog::MAX_SEARCH_LENGTH, false)?
        .map(str::to_string);
    let tags = match ctx.task.get("tags") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(ctx.wrong_type("tags", "array")),
    };
    let category = exact("category", "Category", catalog::CATEGORIES)?;
    let model_type = exact("type", "Type", catalog::TYPES)?;
    let architecture = exact("architecture", "Architecture", catalog::ARCHITECTURES)?;
    let conditioning = exact("conditioning", "Conditioning", catalog::CONDITIONINGS)?;
    let visibility = exact("visibility", "Visibility", catalog::VISIBILITIES)?;
    let limit = ctx
        .int_as(
            "limit",
            "Limit",
            Range {
                min: 1.0,
                max: catalog::MAX_LIMIT as f64,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(catalog::DEFAULT_LIMIT);
    let offset = ctx
        .int_as(
            "offset",
            "Offset",
            Range {
                min: 0.0,
                max: catalog::MAX_OFFSET as f64,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(0);
    Ok(catalog::SearchQuery {
        search,
        tags,
        category,
        model_type,
        architecture,
        conditioning,
        visibility,
        limit,
        offset,
    })
}
