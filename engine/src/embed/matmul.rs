//! The one matrix product the encoder uses: a safe, bounds-checked front for
//! `matrixmultiply::sgemm` over strided views of `f32` slices.

/// A strided `rows × cols` view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

/// Whether every element of a `rows × cols` view with these strides is inside `len` values.
fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

/// `c = alpha * a × b + beta * c`, where `c` is `a.rows × b.cols` with row stride `ldc`.
///
/// # Panics
/// When the shapes disagree or a view reaches past its slice (a bug in the caller, never
/// input-dependent: every shape comes from the model's fixed sizes and token counts).
pub(crate) fn gemm(alpha: f32, a: View<'_>, b: View<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert!(
        fits(a.data.len(), a.rows, a.cols, a.rs, a.cs),
        "a out of bounds"
    );
    assert!(
        fits(b.data.len(), b.rows, b.cols, b.rs, b.cs),
        "b out of bounds"
    );
    assert!(fits(c.len(), a.rows, b.cols, ldc, 1), "c out of bounds");
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    // SAFETY: the asserts above keep every element sgemm reads from `a` and `b` and writes in
    // `c` (an `a.rows × b.cols` block with strides `ldc`, 1) inside its slice; `c` is borrowed
    // mutably, so it does not alias `a` or `b`. Strides fit `isize`: they index live slices.
    unsafe {
        matrixmultiply::sgemm(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_product_on_strided_views() {
        // a: 3×2 read transposed out of a 2×3 buffer; b: 2×4 row-major.
        let a_buf = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = View {
            data: &a_buf,
            rows: 3,
            cols: 2,
            rs: 1,
            cs: 3,
        };
        let b_buf: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let b = View {
            data: &b_buf,
            rows: 2,
            cols: 4,
            rs: 4,
            cs: 1,
        };
        let mut c = vec![1.0; 12];
        gemm(2.0, a, b, 1.0, &mut c, 4);
        for i in 0..3 {
            for j in 0..4 {
                let want: f32 = (0..2).map(|k| a_buf[k * 3 + i] * b_buf[k * 4 + j]).sum();
                assert_eq!(c[i * 4 + j], 1.0 + 2.0 * want);
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let buf = [0.0; 4];
        let a = View {
            data: &buf,
            rows: 2,
            cols: 3,
            rs: 3,
            cs: 1,
        };
        let b = View {
            data: &buf,
            rows: 3,
            cols: 1,
            rs: 1,
            cs: 1,
        };
        gemm(1.0, a, b, 0.0, &mut [0.0; 2], 1);
    }
}
