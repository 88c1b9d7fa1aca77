//! "Did you mean" suggestions for unknown commands, with the similarity measure of Python's
//! `difflib.get_close_matches` (Ratcliff/Obershelp, cutoff 0.6, at most 3) so that people get the
//! suggestions they got from Errbot.

/// Similarity of two strings in 0.0..=1.0: twice the matched characters over the total.
pub fn ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    2.0 * matched(&a, &b) as f64 / total as f64
}

fn matched(a: &[char], b: &[char]) -> usize {
    let (mut best_len, mut best_a, mut best_b) = (0, 0, 0);
    // Longest common substring by dynamic programming over one row.
    let mut row = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        let mut prev = 0;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == cb { prev + 1 } else { 0 };
            if row[j + 1] > best_len {
                best_len = row[j + 1];
                best_a = i + 1 - best_len;
                best_b = j + 1 - best_len;
            }
            prev = here;
        }
    }
    if best_len == 0 {
        return 0;
    }
    best_len
        + matched(&a[..best_a], &b[..best_b])
        + matched(&a[best_a + best_len..], &b[best_b + best_len..])
}

/// Up to `n` candidates whose similarity to `word` is at least `cutoff`, best first.
pub fn close_matches<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
    cutoff: f64,
) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (ratio(word, c), c))
        .filter(|(r, _)| *r >= cutoff)
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(y.1)));
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_like_difflib() {
        assert!((ratio("abcd", "bcde") - 0.75).abs() < 1e-9);
        assert_eq!(ratio("", ""), 1.0);
        assert_eq!(ratio("abc", "xyz"), 0.0);
    }

    #[test]
    fn suggests_close_names() {
        let names = ["status", "restart", "echo", "help", "status plugins"];
        assert_eq!(close_matches("stauts", names, 3, 0.6)[0], "status");
        assert!(close_matches("zzzz", names, 3, 0.6).is_empty());
    }
}
