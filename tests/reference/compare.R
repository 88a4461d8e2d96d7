# Reference values for the adjusted comparison (issue #12): naive, IPTW, g-computation and
# doubly robust (AIPW) completion risks, risk differences and log risk ratios, for the ATE and
# the ATT, with cluster-robust (by client) sandwich standard errors of the stacked estimating
# equations (M-estimation). Written from the estimating equations alone; the derivative
# matrix is numDeriv's (complex-step) Jacobian of the summed estimating function, not a formula.
# Run from the repository root:
#   Rscript tests/reference/compare.R
# Needs r-cran-sandwich, r-cran-survey and r-cran-numderiv (Debian packages).
#
# compare_data.csv (797 generated episodes of 557 clients, 163 of them with more than one
# episode) and compare_terms.csv were written by this Python, with .venv/bin/python:
#
#   import polars as pl, outcomes
#   from outcomes import synth, compare
#   ep = outcomes.episodes(synth.generate(700, seed=5))
#   ep = ep.filter(pl.col("completed").is_not_null(),
#                  pl.col("program_type").is_in(["iop", "residential"]))
#   covs = ["age_group", "sex", "co_occurring_mh", "prior_episodes", "referral_source"]
#   X = compare.design_matrix(ep, covs)
#   names = [f"x{j + 1}" for j in range(X.width)]
#   d = pl.DataFrame({"client_id": ep["client_id"],
#                     "t": (ep["program_type"] == "iop").cast(pl.Int64),
#                     "y": ep["completed"].cast(pl.Int64)}).hstack(
#       X.rename(dict(zip(X.columns, names))))
#   d.write_csv("tests/reference/compare_data.csv")
#   pl.DataFrame({"name": names, "term": X.columns}).write_csv(
#       "tests/reference/compare_terms.csv")
#
# Writes compare_risks.csv (estimand, method, arm, risk), compare_mest.csv (estimand, method,
# contrast, estimate, std_error) and compare_checks.csv (name, value), 15 significant digits.
suppressPackageStartupMessages({ library(sandwich); library(survey); library(numDeriv) })
out <- "tests/reference"
fmt <- function(x) sprintf("%.15g", x)
w <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, quote = FALSE)

d <- read.csv(file.path(out, "compare_data.csv"), colClasses = c(client_id = "character"))
xs <- grep("^x[0-9]+$", names(d), value = TRUE)
n <- nrow(d)
tr <- d$t
y <- d$y
X1 <- cbind(1, as.matrix(d[, xs]))                 # propensity design (1, x)
Z <- cbind(1, tr, as.matrix(d[, xs]))              # outcome design (1, T, x)
Za <- function(a) { m <- Z; m[, 2] <- a; m }
Z1 <- Za(1)
Z0 <- Za(0)
p1 <- ncol(X1)
p2 <- ncol(Z)
expit <- function(u) 1 / (1 + exp(-u))
ctl <- glm.control(epsilon = 1e-14, maxit = 100)

# Nuisance models --------------------------------------------------------------------------
ps_fit <- glm(tr ~ X1 - 1, family = binomial, control = ctl)
om_fit <- glm(y ~ Z - 1, family = binomial, control = ctl)
stopifnot(ps_fit$converged, om_fit$converged)
beta <- unname(coef(ps_fit))
gamma <- unname(coef(om_fit))
stopifnot(!anyNA(beta), !anyNA(gamma))

weights_for <- function(estimand, e) {
  if (estimand == "ate") list(w = tr / e + (1 - tr) / (1 - e), s = rep(1, n))
  else list(w = tr + (1 - tr) * e / (1 - e), s = tr)
}

# Stacked estimating functions: one row per episode, one column per parameter ---------------
# theta = (beta, gamma, [mu_naive, mu_iptw, mu_gcomp, delta] for arm 1, then for arm 0)
psi <- function(theta, estimand) {
  b <- theta[seq_len(p1)]
  g <- theta[p1 + seq_len(p2)]
  e <- expit(drop(X1 %*% b))
  m <- expit(drop(Z %*% g))
  ws <- weights_for(estimand, e)
  cols <- list(X1 * (tr - e), Z * (y - m))
  k <- p1 + p2
  for (a in c(1, 0)) {
    A <- if (a == 1) tr else 1 - tr
    ma <- expit(drop((if (a == 1) Z1 else Z0) %*% g))
    mu <- theta[k + 1:4]
    cols[[length(cols) + 1]] <- cbind(A * (y - mu[1]),
                                      A * ws$w * (y - mu[2]),
                                      ws$s * (ma - mu[3]),
                                      A * ws$w * (y - ma - mu[4]))
    k <- k + 4
  }
  do.call(cbind, cols)
}

fit_stack <- function(estimand) {
  e <- unname(fitted(ps_fit))
  ws <- weights_for(estimand, e)
  theta <- c(beta, gamma)
  for (a in c(1, 0)) {
    A <- if (a == 1) tr else 1 - tr
    ma <- expit(drop((if (a == 1) Z1 else Z0) %*% gamma))
    theta <- c(theta,
               sum(A * y) / sum(A),
               sum(A * ws$w * y) / sum(A * ws$w),
               sum(ws$s * ma) / sum(ws$s),
               sum(A * ws$w * (y - ma)) / sum(A * ws$w))
  }
  U <- psi(theta, estimand)
  resid <- max(abs(colSums(U)))
  # complex-step derivatives: exact to rounding (Richardson's agree to about 1e-11)
  Amat <- jacobian(function(th) colSums(psi(th, estimand)), theta, method = "complex")
  Ug <- rowsum(U, d$client_id)
  G <- nrow(Ug)
  B <- G / (G - 1) * crossprod(Ug)
  Ainv <- solve(Amat)
  V <- Ainv %*% B %*% t(Ainv)
  list(theta = theta, V = V, resid = resid, G = G, w = ws$w)
}

k0 <- p1 + p2
idx <- function(method, a) {
  off <- k0 + (if (a == 1) 0 else 4)
  switch(method, naive = off + 1, iptw = off + 2, gcomp = off + 3, aipw = off + c(3, 4))
}

risks <- list()
effects <- list()
checks <- list()
fits <- list()
for (estimand in c("ate", "att")) {
  f <- fit_stack(estimand)
  fits[[estimand]] <- f
  checks[[length(checks) + 1]] <- data.frame(
    name = paste0(estimand, "_max_abs_estimating_sum"), value = f$resid)
  for (method in c("naive", "iptw", "gcomp", "aipw")) {
    i1 <- idx(method, 1)
    i0 <- idx(method, 0)
    mu1 <- sum(f$theta[i1])
    mu0 <- sum(f$theta[i0])
    risks[[length(risks) + 1]] <- data.frame(estimand = estimand, method = method,
                                             arm = c(1, 0), risk = c(mu1, mu0))
    grad_rd <- numeric(length(f$theta))
    grad_rd[i1] <- 1
    grad_rd[i0] <- -1
    grad_lr <- numeric(length(f$theta))
    grad_lr[i1] <- 1 / mu1
    grad_lr[i0] <- -1 / mu0
    se <- function(gr) sqrt(drop(t(gr) %*% f$V %*% gr))
    effects[[length(effects) + 1]] <- data.frame(
      estimand = estimand, method = method, contrast = c("difference", "log_ratio"),
      estimate = c(mu1 - mu0, log(mu1 / mu0)), std_error = c(se(grad_rd), se(grad_lr)))
  }
}
risks <- do.call(rbind, risks)
effects <- do.call(rbind, effects)

# Cross-checks with other R tools ------------------------------------------------------------
get_fx <- function(est, meth, con)
  effects[effects$estimand == est & effects$method == meth & effects$contrast == con, ]
for (estimand in c("ate", "att")) {
  dd <- d
  dd$w <- fits[[estimand]]$w
  des <- svydesign(ids = ~client_id, weights = ~w, data = dd)
  sv <- svyglm(y ~ t, design = des)
  checks[[length(checks) + 1]] <- data.frame(
    name = paste0(estimand, c("_svyglm_iptw_difference", "_svyglm_iptw_std_error")),
    value = c(unname(coef(sv)["t"]), unname(sqrt(diag(vcov(sv)))["t"])))
  stopifnot(abs(coef(sv)["t"] - get_fx(estimand, "iptw", "difference")$estimate) < 1e-10)
}
# Naive difference as an identity-link linear model, cluster-robust: HC0 with the
# G/(G-1) cluster adjustment (cadjust = TRUE, no (n-1)/(n-k) factor) is the stack's variance.
lin <- lm(y ~ t, data = d)
vc <- vcovCL(lin, cluster = ~client_id, type = "HC0", cadjust = TRUE)
checks[[length(checks) + 1]] <- data.frame(
  name = c("naive_lm_difference", "naive_vcovcl_hc0_std_error"),
  value = c(unname(coef(lin)["t"]), sqrt(vc["t", "t"])))
stopifnot(abs(sqrt(vc["t", "t"]) - get_fx("ate", "naive", "difference")$std_error) < 1e-12)
checks[[length(checks) + 1]] <- data.frame(
  name = c("n_episodes", "n_clients", "n_clients_several_episodes"),
  value = c(n, fits$ate$G, sum(table(d$client_id) > 1)))
checks <- do.call(rbind, checks)

risks$risk <- fmt(risks$risk)
effects$estimate <- fmt(effects$estimate)
effects$std_error <- fmt(effects$std_error)
checks$value <- fmt(checks$value)
w(risks, "compare_risks.csv")
w(effects, "compare_mest.csv")
w(checks, "compare_checks.csv")
print(effects)
cat("written to", out, "\n")
