//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) parsed to an exact value, so spellings
//! of the same amount compare equal: `1000m` = `1`, `1Gi` = `1024Mi` — Argo CD's most reported
//! false positive.

/// Canonical spelling of a quantity: its exact value as a plain decimal with at most nine
/// fractional digits (the API server's own nano precision, rounded up as it rounds).
/// `None` when `s` is not a quantity, so callers leave such strings untouched.
pub fn canonical(s: &str) -> Option<String> {
    let nanos = parse_nanos(s)?;
    let (sign, abs) = if nanos < 0 { ("-", -nanos) } else { ("", nanos) };
    let int = abs / NANO;
    let frac = abs % NANO;
    if frac == 0 {
        Some(format!("{sign}{int}"))
    } else {
        let digits = format!("{frac:09}");
        Some(format!("{sign}{int}.{}", digits.trim_end_matches('0')))
    }
}

const NANO: i128 = 1_000_000_000;

/// The quantity in units of 10⁻⁹, or `None` if it does not parse or does not fit.
fn parse_nanos(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(num_end);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if frac_part.contains('.') {
        return None;
    }
    // mantissa = int_part.frac_part as an integer, scaled down by 10^frac_len.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let frac_len = frac_part.len() as i32;

    // value = mantissa * 10^(dec_exp - frac_len) * 2^(bin_exp)
    let (dec_exp, bin_exp): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let exp: i32 = exp.parse().ok()?;
            if !(-40..=40).contains(&exp) {
                return None;
            }
            (exp, 0)
        }
    };
    let scaled = mantissa.checked_mul(1i128.checked_shl(bin_exp)?)?;
    let exp10 = dec_exp - frac_len + 9;
    let nanos = if exp10 >= 0 {
        scaled.checked_mul(10i128.checked_pow(exp10 as u32)?)?
    } else {
        let div = 10i128.checked_pow((-exp10) as u32)?;
        // Round up, as the API server does when a quantity has more precision than nano.
        scaled / div + i128::from(scaled % div != 0)
    };
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(canonical(input).as_deref(), expected, "{input}");
    }

    #[test]
    fn equal_amounts_share_one_spelling() {
        check("1", Some("1"));
        check("1000m", Some("1"));
        check("0.5", Some("0.5"));
        check("500m", Some("0.5"));
        check("1Gi", Some("1073741824"));
        check("1024Mi", Some("1073741824"));
        check("1e3", Some("1000"));
        check("1k", Some("1000"));
        check("1.5Gi", Some("1610612736"));
        check("100n", Some("0.0000001"));
        check("-2", Some("-2"));
        check("+2", Some("2"));
        check(".5", Some("0.5"));
        check("1E-3", Some("0.001"));
        check("0", Some("0"));
    }

    #[test]
    fn different_amounts_stay_different() {
        assert_ne!(canonical("2"), canonical("1"));
        assert_ne!(canonical("1G"), canonical("1Gi"));
    }

    #[test]
    fn non_quantities_are_left_alone() {
        check("abc", None);
        check("", None);
        check("1Xi", None);
        check("1.2.3", None);
        check("-", None);
        check("1e999", None);
        check("99999999999999999999999999999999999Ei", None);
    }
}
