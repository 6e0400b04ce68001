//! Just enough Kubernetes quantity arithmetic to size a namespace quota for its pods.

/// Parses a quantity into milli-units (`"2"` → 2000, `"250m"` → 250, `"1Gi"` → 1Gi × 1000).
pub fn parse_milli(value: &str) -> Option<u128> {
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let scale: u128 = match suffix {
        "m" => 1,
        "" => 1_000,
        "k" => 1_000_000,
        "M" => 1_000_000_000,
        "G" => 1_000_000_000_000,
        "T" => 1_000_000_000_000_000,
        "Ki" => 1_024_000,
        "Mi" => 1_048_576_000,
        "Gi" => 1_073_741_824_000,
        "Ti" => 1_099_511_627_776_000,
        _ => return None,
    };
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(scale)?;
    // Fractions to three digits are enough for CPU (`0.5`) and memory (`1.5Gi`).
    let mut place = scale;
    for digit in fraction.chars().take(3) {
        place /= 10;
        total += u128::from(digit.to_digit(10)?) * place;
    }
    Some(total)
}

/// Formats milli-CPU the way the API server does (`2000` → `"2"`, `2500` → `"2500m"`).
pub fn format_cpu(milli: u128) -> String {
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Formats milli-bytes as the largest exact binary unit (`"3Gi"`, `"1536Mi"`).
pub fn format_memory(milli: u128) -> String {
    let bytes = milli.div_ceil(1000);
    for (unit, size) in [
        ("Ti", 1u128 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes.is_multiple_of(size) && bytes >= size {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("250m"), Some(250));
        assert_eq!(parse_milli("0.5"), Some(500));
        assert_eq!(parse_milli("1Gi"), Some(1_073_741_824_000));
        assert_eq!(parse_milli("1.5Gi"), Some(1_610_612_736_000));
        assert_eq!(parse_milli("lots"), None);
        assert_eq!(parse_milli("8Gb"), None);
        assert_eq!(format_cpu(2000), "2");
        assert_eq!(format_cpu(2500), "2500m");
        assert_eq!(format_memory(parse_milli("1536Mi").unwrap_or(0)), "1536Mi");
        assert_eq!(format_memory(parse_milli("2Gi").unwrap_or(0)), "2Gi");
    }
}
