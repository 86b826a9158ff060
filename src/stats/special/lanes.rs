//! Elementary functions written as straight-line code (no branches, no calls into libm), so that a
//! loop applying them to a slice compiles to SIMD: the MGPS likelihood evaluates several of them per
//! drug-event pair on every step of the fit, and libm's scalar `exp`/`ln` would dominate its cost.
//!
//! Accuracy is within a few ulp of libm over the domains stated on each function; the unit tests
//! sweep those domains against `std`. Choices are made with `if` on plain values, which LLVM turns
//! into vector blends.

const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// 1.5 * 2^52: adding it rounds a float to an integer held in the low bits of the mantissa.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// 2^52 as the bits of a float with a zero mantissa; used to turn an exponent field into a float.
const TWO52_BITS: u64 = 0x4330_0000_0000_0000;
const TWO52: f64 = 4_503_599_627_370_496.0;

/// Taylor coefficients 1/k! for k = 2..=13; |r| <= ln2/2 leaves a remainder below 4e-18.
const INV_FACT: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// Split x = k ln2 + r with |r| <= ln2/2; returns (2^k, r). `x` must lie in [-708, 709].
#[inline(always)]
fn reduce(x: f64) -> (f64, f64) {
    let t = x * LOG2_E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let k_int = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let scale = f64::from_bits(k_int.wrapping_add(1023) << 52);
    (scale, r)
}

/// expm1(r) - r - r^2/2 ... evaluated as r * (1 + r/2 + r^2/6 + ...) by Horner's rule.
#[inline(always)]
fn expm1_reduced(r: f64) -> f64 {
    let mut p = INV_FACT[11];
    for c in INV_FACT[..11].iter().rev() {
        p = p * r + c;
    }
    r + r * r * p
}

/// e^x. Inputs below -708 give e^-708 (about 3e-308) instead of a subnormal or zero, and inputs
/// above 709 give e^709; callers use it on values that are far inside that range.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let (scale, r) = reduce(x);
    scale + scale * expm1_reduced(r)
}

/// e^x - 1, accurate near 0, for x in [-708, 709] (clamped as [`exp`]).
#[inline(always)]
pub fn expm1(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let (scale, r) = reduce(x);
    // 2^k (1 + q) - 1 = 2^k q + (2^k - 1); for k = 0 this is exactly q.
    scale * expm1_reduced(r) + (scale - 1.0)
}

/// Coefficients 2/(2k+1) of ln((1+s)/(1-s)) = 2s (1 + s^2/3 + s^4/5 + ...), k = 1..=10.
const ATANH_COEF: [f64; 10] = [
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
];

/// ln(x) for 2.2e-308 <= x < 1.2e308 (normal numbers short of the top binade).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    log_with_correction(x, 0.0)
}

/// ln(1 + x) for x >= 0, accurate for tiny x: the part of x lost in rounding 1 + x is carried
/// into the reduced argument, so it costs no more than [`ln`].
#[inline(always)]
pub fn ln_1p(x: f64) -> f64 {
    let u = 1.0 + x;
    log_with_correction(u, x - (u - 1.0))
}

/// ln(u + c) for u in the domain of [`ln`] and |c| a rounding error of u: u = 2^k·m with m in
/// [√½, √2), then ln(m + c/2^k) = 2 atanh(s) with s = f/(2 + f), f = m − 1 + c/2^k, |s| <= 0.1716.
#[inline(always)]
fn log_with_correction(u: f64, c: f64) -> f64 {
    let bits = u.to_bits();
    // Exponent field as a float, exactly: (2^52 + field) - 2^52 - 1023.
    let exponent = f64::from_bits((bits >> 52) | TWO52_BITS) - (TWO52 + 1023.0);
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let high = mantissa > std::f64::consts::SQRT_2;
    let m = if high { mantissa * 0.5 } else { mantissa };
    let k = if high { exponent + 1.0 } else { exponent };
    // 2^-k, exactly, from the exponent bits (k lies within [-1022, 1024])
    let scale = f64::from_bits((((1023.0 - k) + TWO52).to_bits() & 0x7ff) << 52);
    let f = (m - 1.0) + c * scale;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut p = ATANH_COEF[9];
    for coef in ATANH_COEF[..9].iter().rev() {
        p = p * z + coef;
    }
    let log_m = 2.0 * s + 2.0 * s * z * p;
    k * LN2_HI + (log_m + k * LN2_LO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn exp_matches_std_over_its_range() {
        let mut x = -700.0;
        while x < 700.0 {
            assert!(close(exp(x), x.exp(), 4e-16), "exp({x}) = {} vs {}", exp(x), x.exp());
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn expm1_matches_std_including_tiny_arguments() {
        for &x in &[-1e-300, -1e-17, -1e-10, -3e-6, -0.01, -0.34, -0.36, -1.0, -20.0, -700.0, 1e-12, 0.5, 3.0, 50.0] {
            assert!(close(expm1(x), x.exp_m1(), 4e-16), "expm1({x}) = {} vs {}", expm1(x), x.exp_m1());
        }
    }

    #[test]
    fn ln_matches_std_over_its_range() {
        let mut x = 2.3e-308;
        while x < 1e308 {
            assert!(close(ln(x), x.ln(), 3e-16), "ln({x}) = {} vs {}", ln(x), x.ln());
            x *= 1.37;
        }
        let sqrt2 = std::f64::consts::SQRT_2;
        for &x in &[1.0_f64, 1.0 + 1e-15, 1.0 - 1e-15, 0.5, 2.0, sqrt2 - 1e-7, sqrt2 + 1e-7, 0.5 * sqrt2 - 1e-7] {
            let want = x.ln();
            assert!((ln(x) - want).abs() <= 2e-16 * want.abs().max(1e-300), "ln({x})");
        }
    }

    #[test]
    fn ln_1p_is_accurate_for_tiny_and_large_arguments() {
        for &x in &[0.0, 1e-300, 1e-20, 1e-12, 3e-8, 1e-4, 0.3, 1.0, 7.5, 1e6, 1e300] {
            assert!(close(ln_1p(x), x.ln_1p(), 3e-16), "ln_1p({x}) = {} vs {}", ln_1p(x), x.ln_1p());
        }
    }
}
