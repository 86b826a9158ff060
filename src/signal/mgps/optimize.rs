//! Unconstrained minimisation by BFGS with a strong-Wolfe line search (Nocedal & Wright 2006,
//! algorithms 6.1, 3.5 and 3.6), for the five-parameter MGPS likelihood on its log/logit scale.

/// What the objective returns: its value and gradient at a point.
pub type ValueGradient<const D: usize> = (f64, [f64; D]);

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stop when every gradient component is below this in absolute value.
    pub gradient_tolerance: f64,
    pub max_iterations: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { gradient_tolerance: 1e-6, max_iterations: 1000 }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Minimum<const D: usize> {
    pub x: [f64; D],
    /// The final BFGS approximation of the inverse Hessian at `x`.
    pub inverse_hessian: [[f64; D]; D],
    pub value: f64,
    pub gradient: [f64; D],
    pub iterations: usize,
    pub evaluations: usize,
    /// The gradient tolerance was met (rather than the iteration limit, or a line search that
    /// could no longer make progress at a point where the gradient is still large).
    pub converged: bool,
}

/// A point where the value stops improving counts as converged if its gradient is within this
/// factor of the tolerance (the gradient of a sum of many terms carries rounding noise).
const STALL_FACTOR: f64 = 1e3;

fn dot<const D: usize>(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs<const D: usize>(a: &[f64; D]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn step<const D: usize>(x: &[f64; D], dir: &[f64; D], t: f64) -> [f64; D] {
    std::array::from_fn(|i| x[i] + t * dir[i])
}

/// Minimise `f` from `x0`, with `h0` as the initial inverse Hessian approximation if known (from
/// a minimisation of a similar function, say), or the identity scaled at the first step.
pub fn minimize<const D: usize>(
    mut f: impl FnMut(&[f64; D]) -> ValueGradient<D>,
    x0: [f64; D],
    h0: Option<[[f64; D]; D]>,
    options: &Options,
) -> Minimum<D> {
    let mut evaluations = 0;
    let mut eval = |x: &[f64; D]| {
        evaluations += 1;
        f(x)
    };
    let mut x = x0;
    let (mut fx, mut g) = eval(&x);
    let mut h = h0.unwrap_or_else(|| std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 })));
    let mut first = h0.is_none();
    let mut iterations = 0;
    let mut converged = max_abs(&g) < options.gradient_tolerance;
    while !converged && iterations < options.max_iterations && fx.is_finite() {
        iterations += 1;
        let mut dir: [f64; D] = std::array::from_fn(|i| -dot(&h[i], &g));
        if dot(&dir, &g) >= 0.0 {
            // Not a descent direction (the approximation went bad): restart from steepest descent.
            dir = g.map(|v| -v);
            for (i, row) in h.iter_mut().enumerate() {
                *row = [0.0; D];
                row[i] = 1.0;
            }
            first = true;
        }
        // Keep the first trial within a factor e² of every parameter on its natural scale.
        let t0 = (2.0 / max_abs(&dir)).min(1.0);
        let Some((t, fx_new, g_new)) = line_search(&mut eval, &x, fx, &g, &dir, t0) else {
            if !first {
                // The approximation may have gone stale: retry once from steepest descent.
                for (i, row) in h.iter_mut().enumerate() {
                    *row = [0.0; D];
                    row[i] = 1.0;
                }
                first = true;
                continue;
            }
            // No decrease is representable along the gradient: this is as stationary as the
            // floating-point value allows, if the gradient is small.
            converged = max_abs(&g) < STALL_FACTOR * options.gradient_tolerance;
            break;
        };
        let s: [f64; D] = std::array::from_fn(|i| t * dir[i]);
        let y: [f64; D] = std::array::from_fn(|i| g_new[i] - g[i]);
        let previous = fx;
        x = step(&x, &dir, t);
        fx = fx_new;
        g = g_new;
        converged = max_abs(&g) < options.gradient_tolerance;
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if first {
                // Scale the initial approximation to the curvature just seen (N&W eq. 6.20).
                let scale = sy / dot(&y, &y);
                for (i, row) in h.iter_mut().enumerate() {
                    *row = [0.0; D];
                    row[i] = scale;
                }
                first = false;
            }
            bfgs_update(&mut h, &s, &y, sy);
        }
        if previous - fx <= 1e-13 * fx.abs() && max_abs(&g) < STALL_FACTOR * options.gradient_tolerance {
            // At the floor of floating-point precision: the value can no longer improve (BFGS
            // converges superlinearly, so what remains is smaller than this last decrease).
            converged = true;
        }
    }
    Minimum { x, inverse_hessian: h, value: fx, gradient: g, iterations, evaluations, converged }
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1/(yᵀs).
fn bfgs_update<const D: usize>(h: &mut [[f64; D]; D], s: &[f64; D], y: &[f64; D], sy: f64) {
    let rho = 1.0 / sy;
    let hy: [f64; D] = std::array::from_fn(|i| dot(&h[i], y));
    let yhy = dot(y, &hy);
    for i in 0..D {
        for j in 0..D {
            h[i][j] += -rho * (s[i] * hy[j] + hy[i] * s[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

/// A step length satisfying the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9), or None when none
/// can be found (the function does not decrease along `dir` at representable step sizes).
fn line_search<const D: usize>(
    eval: &mut impl FnMut(&[f64; D]) -> ValueGradient<D>,
    x: &[f64; D],
    f0: f64,
    g0: &[f64; D],
    dir: &[f64; D],
    t_first: f64,
) -> Option<(f64, f64, [f64; D])> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let d0 = dot(g0, dir);
    let (mut t_prev, mut f_prev, mut d_prev) = (0.0, f0, d0);
    let mut t = t_first;
    for i in 0..30 {
        let (ft, gt) = eval(&step(x, dir, t));
        if !ft.is_finite() {
            // Stepped out of the region where the likelihood is defined: come back.
            t = t_prev + 0.1 * (t - t_prev);
            continue;
        }
        let dt = dot(&gt, dir);
        if ft > f0 + C1 * t * d0 || (i > 0 && ft >= f_prev) {
            return zoom(eval, x, f0, d0, dir, (t_prev, f_prev, d_prev), (t, ft, dt));
        }
        if dt.abs() <= -C2 * d0 {
            return Some((t, ft, gt));
        }
        if dt >= 0.0 {
            return zoom(eval, x, f0, d0, dir, (t, ft, dt), (t_prev, f_prev, d_prev));
        }
        (t_prev, f_prev, d_prev) = (t, ft, dt);
        t *= 2.0;
    }
    None
}

/// Narrow [lo, hi] (lo the better end) to a strong-Wolfe step by safeguarded cubic interpolation.
fn zoom<const D: usize>(
    eval: &mut impl FnMut(&[f64; D]) -> ValueGradient<D>,
    x: &[f64; D],
    f0: f64,
    d0: f64,
    dir: &[f64; D],
    mut lo: (f64, f64, f64),
    mut hi: (f64, f64, f64),
) -> Option<(f64, f64, [f64; D])> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let mut best: Option<(f64, f64, [f64; D])> = None;
    for _ in 0..20 {
        let t = cubic_minimizer(lo, hi);
        let (ft, gt) = eval(&step(x, dir, t));
        let dt = dot(&gt, dir);
        if !ft.is_finite() || ft > f0 + C1 * t * d0 || ft >= lo.1 {
            hi = (t, ft, dt);
        } else {
            if dt.abs() <= -C2 * d0 {
                return Some((t, ft, gt));
            }
            if dt * (hi.0 - lo.0) >= 0.0 {
                hi = lo;
            }
            lo = (t, ft, dt);
            best = Some((t, ft, gt));
        }
        if (hi.0 - lo.0).abs() <= 1e-16 * lo.0.abs().max(1e-300) {
            break;
        }
    }
    // The interval collapsed: accept the best decrease found, if any.
    best.filter(|b| b.1 < f0)
}

/// The minimiser of the cubic through two points with their slopes, kept well inside the interval.
fn cubic_minimizer(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let (ta, fa, da) = a;
    let (tb, fb, db) = b;
    let d1 = da + db - 3.0 * (fa - fb) / (ta - tb);
    let disc = d1 * d1 - da * db;
    let (lo, hi) = (ta.min(tb), ta.max(tb));
    let margin = 0.1 * (hi - lo);
    if disc >= 0.0 && fb.is_finite() {
        let d2 = (tb - ta).signum() * disc.sqrt();
        let t = tb - (tb - ta) * (db + d2 - d1) / (db - da + 2.0 * d2);
        if t.is_finite() && t > lo + margin && t < hi - margin {
            return t;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_the_rosenbrock_function() {
        let rosenbrock = |x: &[f64; 2]| {
            let (a, b) = (x[0], x[1]);
            let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let gradient = [-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
            (value, gradient)
        };
        let m = minimize(rosenbrock, [-1.2, 1.0], None, &Options { gradient_tolerance: 1e-9, max_iterations: 500 });
        assert!(m.converged, "{m:?}");
        assert!((m.x[0] - 1.0).abs() < 1e-7 && (m.x[1] - 1.0).abs() < 1e-7, "{m:?}");
    }
}
