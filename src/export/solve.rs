//! Which masked cells a reader can recompute: the masked cells are the unknowns of the linear
//! system that the totals shown in a table make (each total = the sum of its parts); an unknown is
//! recoverable exactly when it has the same value in every solution, i.e. when its unit vector
//! lies in the row space of the system. We decide that by Gaussian elimination, one connected
//! group of unknowns at a time (groups that share no equation are independent, and small).

/// One equation: (unknown, coefficient) pairs; the constant side does not matter for uniqueness.
pub type Equation = Vec<(usize, f64)>;

const EPS: f64 = 1e-9;

/// For unknowns `0..n`, whether each is determined uniquely by `equations` (assumed consistent).
pub fn determined(n: usize, equations: &[Equation]) -> Vec<bool> {
    let mut groups = UnionFind::new(n);
    for eq in equations {
        for pair in eq.windows(2) {
            groups.union(pair[0].0, pair[1].0);
        }
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    for x in 0..n {
        members[groups.find(x)].push(x);
    }
    let mut eqs_of: Vec<Vec<&Equation>> = vec![Vec::new(); n];
    for eq in equations.iter().filter(|e| !e.is_empty()) {
        eqs_of[groups.find(eq[0].0)].push(eq);
    }
    let mut out = vec![false; n];
    for root in 0..n {
        if members[root].is_empty() || eqs_of[root].is_empty() {
            continue;
        }
        for (local, ok) in determined_in_group(&members[root], &eqs_of[root]).into_iter().enumerate() {
            out[members[root][local]] = ok;
        }
    }
    out
}

/// Reduced row echelon form of one group's dense matrix; unknown `j` is determined when its
/// column holds a pivot whose row has no other non-zero entry (that row then reads `x_j = c`).
fn determined_in_group(unknowns: &[usize], equations: &[&Equation]) -> Vec<bool> {
    let k = unknowns.len();
    let local = |x: usize| unknowns.binary_search(&x).expect("an equation's unknown is in its group");
    let mut m: Vec<Vec<f64>> = equations
        .iter()
        .map(|eq| {
            let mut row = vec![0.0; k];
            for &(x, a) in eq.iter() {
                row[local(x)] += a;
            }
            row
        })
        .collect();
    let mut pivot_row_of = vec![None; k];
    let mut r = 0;
    for col in 0..k {
        if r == m.len() {
            break;
        }
        let best = (r..m.len()).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).expect("rows remain");
        if m[best][col].abs() < EPS {
            continue;
        }
        m.swap(r, best);
        let p = m[r][col];
        m[r].iter_mut().for_each(|v| *v /= p);
        let pivot = m[r].clone();
        for (i, row) in m.iter_mut().enumerate() {
            let f = row[col];
            if i != r && f.abs() >= EPS {
                row.iter_mut().zip(&pivot).for_each(|(v, p)| *v -= f * p);
            }
        }
        pivot_row_of[col] = Some(r);
        r += 1;
    }
    (0..k)
        .map(|col| pivot_row_of[col].is_some_and(|r| m[r].iter().enumerate().all(|(j, v)| j == col || v.abs() < EPS)))
        .collect()
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n).collect() }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(xs: &[usize]) -> Equation {
        xs.iter().map(|&x| (x, 1.0)).collect()
    }

    #[test]
    fn one_unknown_in_a_total_is_recoverable() {
        // x0 + 12 = 20
        assert_eq!(determined(1, &[eq(&[0])]), vec![true]);
    }

    #[test]
    fn two_unknowns_in_one_total_are_not() {
        assert_eq!(determined(2, &[eq(&[0, 1])]), vec![false, false]);
    }

    #[test]
    fn a_two_by_two_square_of_masks_holds() {
        // x0 + x1 = r0, x2 + x3 = r1, x0 + x2 = c0, x1 + x3 = c1: rank 3, nothing determined.
        let eqs = [eq(&[0, 1]), eq(&[2, 3]), eq(&[0, 2]), eq(&[1, 3])];
        assert_eq!(determined(4, &eqs), vec![false; 4]);
    }

    #[test]
    fn combining_rows_and_columns_recovers() {
        // x0 + x1 = r0, x0 = c0 - visible: x0, then x1.
        let eqs = [eq(&[0, 1]), eq(&[0])];
        assert_eq!(determined(2, &eqs), vec![true, true]);
        // x0 + x1 = r0, x1 + x2 = r1, x0 - x2 = d (a masked total on the other side).
        let eqs = [eq(&[0, 1]), eq(&[1, 2]), vec![(0, 1.0), (2, -1.0)]];
        assert_eq!(determined(3, &eqs), vec![false; 3]);
    }

    #[test]
    fn independent_groups() {
        let eqs = [eq(&[0, 1]), eq(&[2])];
        assert_eq!(determined(4, &eqs), vec![false, false, true, false]);
    }
}
