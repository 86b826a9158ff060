//! The little dense linear algebra the statistics need: Cholesky factorisation of a small
//! symmetric positive-definite matrix (an information matrix, a covariance of a few statistics),
//! solving with it and inverting it. Matrices are row-major `p × p` slices.

/// A Cholesky factor L (lower triangular, A = L Lᵀ).
#[derive(Debug, Clone)]
pub struct Cholesky {
    p: usize,
    l: Vec<f64>,
}

/// Relative size under which a pivot counts as zero: the column is (numerically) a linear
/// combination of the columns before it.
const PIVOT_TOLERANCE: f64 = 1e-11;

impl Cholesky {
    /// Factor `a`; on failure, the index of the first column that is a linear combination of the
    /// earlier ones (or makes the matrix indefinite).
    pub fn new(a: &[f64], p: usize) -> Result<Cholesky, usize> {
        debug_assert_eq!(a.len(), p * p);
        let mut l = vec![0.0; p * p];
        for j in 0..p {
            let mut diag = a[j * p + j];
            for k in 0..j {
                diag -= l[j * p + k] * l[j * p + k];
            }
            if !diag.is_finite() || diag <= PIVOT_TOLERANCE * a[j * p + j].abs() {
                return Err(j);
            }
            let d = diag.sqrt();
            l[j * p + j] = d;
            for i in j + 1..p {
                let mut v = a[i * p + j];
                for k in 0..j {
                    v -= l[i * p + k] * l[j * p + k];
                }
                l[i * p + j] = v / d;
            }
        }
        Ok(Cholesky { p, l })
    }

    /// x with A x = b.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut y = b.to_vec();
        for i in 0..p {
            for k in 0..i {
                y[i] -= self.l[i * p + k] * y[k];
            }
            y[i] /= self.l[i * p + i];
        }
        for i in (0..p).rev() {
            for k in i + 1..p {
                y[i] -= self.l[k * p + i] * y[k];
            }
            y[i] /= self.l[i * p + i];
        }
        y
    }

    /// A⁻¹, row-major.
    pub fn inverse(&self) -> Vec<f64> {
        let p = self.p;
        let mut inv = vec![0.0; p * p];
        let mut unit = vec![0.0; p];
        for j in 0..p {
            unit.iter_mut().for_each(|u| *u = 0.0);
            unit[j] = 1.0;
            let col = self.solve(&unit);
            for i in 0..p {
                inv[i * p + j] = col[i];
            }
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let chol = Cholesky::new(&a, 3).unwrap();
        let x = chol.solve(&[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((ax - (i as f64 + 1.0)).abs() < 1e-12);
        }
        let inv = chol.inverse();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn names_the_dependent_column() {
        // column 2 = column 0 + column 1
        let a = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        assert_eq!(Cholesky::new(&a, 3).unwrap_err(), 2);
    }
}
