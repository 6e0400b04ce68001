//! Server-side apply as the fake server needs it: each field manager's set of fields, and a
//! field a manager stops applying removed unless another manager still holds it. That last
//! rule is what drops a Deployment to one pod when `spec.replicas` disappears from an apply.

use serde_json::{Map, Value, json};

/// The managed-fields set of an applied body, in the `FieldsV1` shape (`f:` keys); lists and
/// scalars are leaves.
fn fieldset(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind"))
                .map(|(k, v)| (format!("f:{k}"), fieldset(v)))
                .collect(),
        ),
        _ => json!({}),
    }
}

fn leaves(set: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match set.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.trim_start_matches("f:").to_owned());
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn holds(set: &Value, path: &[String]) -> bool {
    path.iter()
        .try_fold(set, |node, key| node.get(format!("f:{key}")))
        .is_some()
}

fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = parents
        .iter()
        .try_fold(object, |node, key| node.get_mut(key.as_str()));
    if let Some(Value::Object(map)) = parent {
        map.remove(last.as_str());
    }
}

/// Applies `body` for `manager` onto `object` (already merged with the body by the caller's
/// rules): drops the fields this manager held before and no longer sends, unless another
/// manager holds them, and records the manager's new field set.
pub fn apply(object: &mut Value, body: &Value, manager: &str) {
    let mut entries: Vec<Value> = object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mine = |e: &Value| e["manager"] == manager && e["operation"] == "Apply";
    let before = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or_else(|| json!({}));
    let now = fieldset(body);
    entries.retain(|e| !mine(e));
    let mut dropped = Vec::new();
    leaves(&before, &mut Vec::new(), &mut dropped);
    for path in dropped {
        let kept = holds(&now, &path) || entries.iter().any(|e| holds(&e["fieldsV1"], &path));
        if !kept {
            remove(object, &path);
        }
    }
    entries.push(json!({
        "manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": now
    }));
    if let Value::Object(meta) = &mut object["metadata"] {
        meta.insert("managedFields".to_owned(), Value::Array(entries));
    } else {
        object["metadata"] = Value::Object(Map::new());
        object["metadata"]["managedFields"] = Value::Array(entries);
    }
}
