//! Convergence diagnostics for several chains of one scalar quantity: split R-hat, effective
//! sample size (bulk and of the mean) and the Monte-Carlo standard error of the mean.
//!
//! The definitions are those of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R-hat", as implemented by ArviZ
//! (`rhat(method="rank")`, `ess(method="bulk")`, `mcse(method="mean")`) and Stan:
//!
//! - chains are split in halves (the middle draw of an odd-length chain is dropped), so a chain
//!   that drifts shows up as two chains that disagree;
//! - rank normalization: the pooled draws are replaced by their normal scores
//!   `Φ⁻¹((r − 3/8) / (S + 1/4))` (`r` the average rank, `S` the number of draws), which makes
//!   the diagnostics well defined for heavy tails and invariant to monotone transforms;
//! - R-hat is the larger of the bulk R-hat (on the normal scores) and the tail R-hat (on the
//!   normal scores of `|x − median|`);
//! - the ESS uses Geyer's initial monotone sequence on the chain-averaged autocovariances.
//!
//! Every function takes `chains: &[C]` with `C: AsRef<[f64]>` (a `Vec<Vec<f64>>`, or slices),
//! all chains of equal length, at least 4 draws each.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{Error, Result};

const CONTEXT: &str = "mcmc::diagnostics";

/// Checks the chains and copies them into owned vectors.
fn checked<C: AsRef<[f64]>>(chains: &[C]) -> Result<Vec<Vec<f64>>> {
    if chains.is_empty() {
        return Err(Error::invalid(CONTEXT, "chains", 0, ">= 1", "pass at least one chain of draws"));
    }
    let n = chains[0].as_ref().len();
    if n < 4 {
        return Err(Error::invalid(CONTEXT, "draws per chain", n, ">= 4", "run each chain for at least 4 draws"));
    }
    if let Some(c) = chains.iter().find(|c| c.as_ref().len() != n) {
        return Err(Error::invalid(
            CONTEXT,
            "draws per chain",
            c.as_ref().len(),
            "the same for every chain (that of chain 0)",
            "pass chains of equal length",
        ));
    }
    if let Some(x) = chains.iter().flat_map(|c| c.as_ref().iter()).find(|x| !x.is_finite()) {
        return Err(Error::invalid(CONTEXT, "draws", x, "finite", "drop or repair the non-finite draws"));
    }
    Ok(chains.iter().map(|c| c.as_ref().to_vec()).collect())
}

/// Each chain cut into its first and last `n / 2` draws.
fn split(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let half = chains[0].len() / 2;
    chains.iter().flat_map(|c| [c[..half].to_vec(), c[c.len() - half..].to_vec()]).collect()
}

/// Normal scores of the pooled draws, ties given their average rank (Vehtari et al. 2021, eq. 14).
fn normal_scores(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = chains[0].len();
    let mut order: Vec<(f64, usize)> = chains.iter().flatten().copied().zip(0..).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = order.len();
    let mut ranks = vec![0.0; total];
    let mut i = 0;
    while i < total {
        let mut j = i;
        while j + 1 < total && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        // 1-based ranks i+1 ..= j+1, averaged over the tie.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for item in &order[i..=j] {
            ranks[item.1] = rank;
        }
        i = j + 1;
    }
    let standard = Normal::standard();
    let scores: Vec<f64> = ranks.iter().map(|r| standard.inverse_cdf((r - 0.375) / (total as f64 + 0.25))).collect();
    scores.chunks(n).map(<[f64]>::to_vec).collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with `n - 1` in the denominator.
fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Gelman–Rubin potential scale reduction of chains that are already split:
/// `sqrt(((n − 1)/n · W + B/n) / W)` with `W` the mean within-chain variance and `B/n` the
/// variance of the chain means (BDA3 eq. 11.3–11.4). Constant chains that all agree give 1.
fn gelman_rubin(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let within = mean(&chains.iter().map(|c| variance(c)).collect::<Vec<_>>());
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let between_over_n = if chains.len() > 1 { variance(&means) } else { 0.0 };
    if within == 0.0 {
        return if between_over_n == 0.0 { 1.0 } else { f64::INFINITY };
    }
    (((n - 1.0) / n * within + between_over_n) / within).sqrt()
}

/// Effective sample size of (already split) chains by Geyer's initial monotone sequence on the
/// chain-averaged autocorrelations (Vehtari et al. 2021, eq. 10; the ArviZ/Stan estimator).
/// Autocovariances are computed lag by lag, only as far as the sequence runs.
fn geyer_ess(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len() as f64;
    let n = chains[0].len();
    let nf = n as f64;
    let centred: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| {
            let mu = mean(c);
            c.iter().map(|x| x - mu).collect()
        })
        .collect();
    // Mean over chains of the biased (divided by n) autocovariance at `lag`.
    let acov = |lag: usize| -> f64 {
        centred.iter().map(|c| c[..n - lag].iter().zip(&c[lag..]).map(|(a, b)| a * b).sum::<f64>() / nf).sum::<f64>()
            / m
    };
    let mean_var = acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if chains.len() > 1 {
        var_plus += variance(&chains.iter().map(|c| mean(c)).collect::<Vec<_>>());
    }
    if var_plus == 0.0 {
        return m * nf;
    }
    let rho = |lag: usize| 1.0 - (mean_var - acov(lag)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    let mut rho_even = 1.0;
    let mut rho_odd = rho(1);
    rho_hat[0] = rho_even;
    rho_hat[1] = rho_odd;
    // Geyer's initial positive sequence: sums of pairs of lags while they stay positive.
    let mut t = 1;
    while t + 3 < n && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // The last lag of the sequence is `t - 2` (-1 when the chains are too short for one pair);
    // `last` is one past it.
    let last = t - 1;
    if rho_even > 0.0 {
        rho_hat[last] = rho_even;
    }
    // Initial monotone sequence: the pair sums may not increase.
    let mut t = 1;
    while t + 3 <= last {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let total = m * nf;
    let tau = -1.0 + 2.0 * rho_hat[..last].iter().sum::<f64>() + rho_hat[last];
    // The floor keeps antithetic chains from claiming an unbounded ESS (ArviZ, Stan).
    total / tau.max(1.0 / total.log10())
}

/// Rank-normalized split R-hat (Vehtari et al. 2021): the larger of the bulk R-hat (normal
/// scores of the draws) and the tail R-hat (normal scores of `|x − median|`) over the split
/// chains. Values near 1 (below 1.01) indicate the chains agree.
///
/// # Errors
/// No chain, fewer than 4 draws per chain, chains of different lengths, non-finite draws.
pub fn rhat<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64> {
    let chains = checked(chains)?;
    let bulk = gelman_rubin(&normal_scores(&split(&chains)));
    let mut pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    pooled.sort_by(f64::total_cmp);
    let s = pooled.len();
    let median = if s % 2 == 1 { pooled[s / 2] } else { (pooled[s / 2 - 1] + pooled[s / 2]) / 2.0 };
    let folded: Vec<Vec<f64>> = chains.iter().map(|c| c.iter().map(|x| (x - median).abs()).collect()).collect();
    let tail = gelman_rubin(&normal_scores(&split(&folded)));
    Ok(bulk.max(tail))
}

/// Split R-hat without rank normalization (Gelman et al., BDA3 §11.4), for comparison.
///
/// # Errors
/// As [`rhat`].
pub fn split_rhat_basic<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64> {
    Ok(gelman_rubin(&split(&checked(chains)?)))
}

/// Bulk effective sample size: Geyer's initial monotone ESS of the normal scores of the split
/// chains (Vehtari et al. 2021). Measures how well the centre of the distribution is explored.
///
/// # Errors
/// As [`rhat`].
pub fn ess_bulk<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64> {
    Ok(geyer_ess(&normal_scores(&split(&checked(chains)?))))
}

/// Effective sample size of the mean: Geyer's initial monotone ESS of the split chains
/// themselves (no rank normalization). For an AR(1) chain with coefficient `φ` this estimates
/// `n (1 − φ) / (1 + φ)`.
///
/// # Errors
/// As [`rhat`].
pub fn ess_mean<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64> {
    Ok(geyer_ess(&split(&checked(chains)?)))
}

/// Monte-Carlo standard error of the posterior mean: `sd / sqrt(ESS of the mean)`, with `sd`
/// the standard deviation of all draws pooled (`n − 1` denominator).
///
/// # Errors
/// As [`rhat`].
pub fn mcse_mean<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64> {
    let owned = checked(chains)?;
    let pooled: Vec<f64> = owned.iter().flatten().copied().collect();
    Ok(variance(&pooled).sqrt() / geyer_ess(&split(&owned)).sqrt())
}

/// The usual summary of one scalar quantity over several chains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Mean of all draws.
    pub mean: f64,
    /// Standard deviation of all draws (`n − 1` denominator).
    pub sd: f64,
    /// Monte-Carlo standard error of `mean` ([`mcse_mean`]).
    pub mcse_mean: f64,
    /// Bulk effective sample size ([`ess_bulk`]).
    pub ess_bulk: f64,
    /// Rank-normalized split R-hat ([`rhat`]).
    pub rhat: f64,
}

/// [`Summary`] of one scalar quantity.
///
/// # Errors
/// As [`rhat`].
pub fn summary<C: AsRef<[f64]>>(chains: &[C]) -> Result<Summary> {
    let owned = checked(chains)?;
    let pooled: Vec<f64> = owned.iter().flatten().copied().collect();
    Ok(Summary {
        mean: mean(&pooled),
        sd: variance(&pooled).sqrt(),
        mcse_mean: mcse_mean(&owned)?,
        ess_bulk: ess_bulk(&owned)?,
        rhat: rhat(&owned)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_get_their_average_rank() {
        let z = normal_scores(&[vec![1.0, 2.0, 2.0, 3.0]]);
        // Ranks 1, 2.5, 2.5, 4 of S = 4.
        let standard = Normal::standard();
        let expect = |r: f64| standard.inverse_cdf((r - 0.375) / 4.25);
        assert_eq!(z[0], vec![expect(1.0), expect(2.5), expect(2.5), expect(4.0)]);
    }

    #[test]
    fn split_drops_the_middle_of_an_odd_chain() {
        let s = split(&[vec![1.0, 2.0, 3.0, 4.0, 5.0]]);
        assert_eq!(s, vec![vec![1.0, 2.0], vec![4.0, 5.0]]);
    }

    #[test]
    fn bad_chains_are_typed_errors() {
        let empty: [Vec<f64>; 0] = [];
        assert!(matches!(rhat(&empty), Err(Error::InvalidParameter { field: "chains", .. })));
        assert!(matches!(ess_bulk(&[vec![1.0, 2.0]]), Err(Error::InvalidParameter { field: "draws per chain", .. })));
        let ragged = [vec![0.0, 1.0, 2.0, 3.0], vec![0.0, 1.0, 2.0, 3.0, 4.0]];
        assert!(matches!(mcse_mean(&ragged), Err(Error::InvalidParameter { field: "draws per chain", .. })));
        let nan = [vec![0.0, 1.0, f64::NAN, 3.0]];
        assert!(matches!(summary(&nan), Err(Error::InvalidParameter { field: "draws", .. })));
    }
}
