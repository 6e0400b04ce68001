//! What the real API server does to a body before it stores it, so that the fake server's
//! objects differ from what the operator sent where a real server's would: quantities in
//! canonical form (`"2000"` → `"2k"`, `"2000m"` → `"2"`, `"1024Mi"` → `"1Gi"`) and empty
//! lists stored as null (the protobuf round trip through etcd cannot tell them apart).

use chemchat_operator::quantity::parse_milli;
use serde_json::Value;

/// Keys whose string values (or whose map's string values) are quantities in the kinds the
/// operator builds: quota and limit maps, container resources, the HPA target, `sizeLimit`.
const QUANTITY_MAPS: [&str; 7] = [
    "hard",
    "limits",
    "requests",
    "default",
    "defaultRequest",
    "max",
    "min",
];
const QUANTITIES: [&str; 2] = ["averageValue", "sizeLimit"];

fn largest(value: u128, units: &[(&str, u128)]) -> String {
    units
        .iter()
        .find(|(_, size)| value >= *size && value.is_multiple_of(*size))
        .map_or_else(
            || value.to_string(),
            |(unit, size)| format!("{}{unit}", value / size),
        )
}

/// The API server's spelling of a quantity: the largest exact unit of the input's kind.
fn canonical(quantity: &str) -> Option<String> {
    let milli = parse_milli(quantity)?;
    if quantity.ends_with('i') && milli.is_multiple_of(1000) {
        let units = [
            ("Ti", 1u128 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ];
        return Some(largest(milli / 1000, &units));
    }
    if !milli.is_multiple_of(1000) {
        return Some(format!("{milli}m"));
    }
    let units = [
        ("T", 1_000_000_000_000u128),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ];
    Some(largest(milli / 1000, &units))
}

fn canonical_in_place(v: &mut Value) {
    if let Some(q) = v.as_str().and_then(canonical) {
        *v = Value::String(q);
    }
}

/// Rewrites `object` as the API server would store it.
pub fn store(object: &mut Value) {
    match object {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if QUANTITIES.contains(&key.as_str()) {
                    canonical_in_place(value);
                } else if QUANTITY_MAPS.contains(&key.as_str())
                    && let Value::Object(quantities) = value
                {
                    quantities.values_mut().for_each(canonical_in_place);
                } else if value.as_array().is_some_and(Vec::is_empty) {
                    *value = Value::Null;
                } else {
                    store(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(store),
        _ => {}
    }
}

#[test]
fn quantities_take_the_api_servers_spelling() {
    for (given, stored) in [
        ("2000", "2k"),
        ("1500", "1500"),
        ("2000m", "2"),
        ("250m", "250m"),
        ("0.5", "500m"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("4Gi", "4Gi"),
    ] {
        assert_eq!(canonical(given).as_deref(), Some(stored), "{given}");
    }
}
