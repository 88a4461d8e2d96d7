# Reference values for outcomes.survival, computed with R's survival and cmprsk packages.
# Regenerate (Debian): apt-get install r-base-core r-cran-survival r-cran-cmprsk
#                      Rscript tests/reference/survival.R        (from the repository root)
# Writes the datasets it reads and every reference value as CSV with 15 significant digits.
suppressPackageStartupMessages({ library(survival); library(cmprsk) })
out <- "tests/reference"
w <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE)
fmt <- function(x) signif(x, 15)

# Datasets -----------------------------------------------------------------------------------
lung2 <- data.frame(time = lung$time, status = as.integer(lung$status == 2),
                    sex = ifelse(lung$sex == 1, "male", "female"),
                    ph_ecog = lung$ph.ecog, age = lung$age, inst = lung$inst)
w(lung2, "lung.csv")
set.seed(20261124)
n <- 400
ties <- data.frame(
  time = sample(1:60, n, replace = TRUE),
  cause = sample(0:2, n, replace = TRUE, prob = c(0.45, 0.4, 0.15)),
  group = sample(c("iop", "residential"), n, replace = TRUE),
  site = sample(c("S1", "S2", "S3"), n, replace = TRUE),
  weight = round(runif(n, 0.3, 3), 4)
)
ties$event <- as.integer(ties$cause == 1)
w(ties, "ties.csv")

# Kaplan-Meier: every conf.type, by group ---------------------------------------------------
km <- function(fit, conf) {
  s <- summary(fit, censored = TRUE)
  strata <- if (is.null(s$strata)) "all" else sub(".*=", "", as.character(s$strata))
  data.frame(conf_type = conf, group = strata, time = s$time, n_risk = s$n.risk,
             n_event = s$n.event, n_censor = s$n.censor, estimate = fmt(s$surv),
             std_err = fmt(s$std.err), lower = fmt(s$lower), upper = fmt(s$upper))
}
km_rows <- do.call(rbind, lapply(c("log", "log-log", "plain"), function(ct) rbind(
  km(survfit(Surv(time, status) ~ 1, data = lung2, conf.type = ct), ct),
  km(survfit(Surv(time, status) ~ sex, data = lung2, conf.type = ct), ct))))
w(km_rows, "km_lung.csv")
w(km(survfit(Surv(time, event) ~ group, data = ties), "log"), "km_ties.csv")
w(km(survfit(Surv(time, event) ~ group, data = ties, weights = weight), "log"),
  "km_ties_weighted.csv")

# Medians and quartiles with their CIs -----------------------------------------------------
q <- function(fit, conf) {
  qq <- quantile(fit, probs = c(0.25, 0.5, 0.75))
  groups <- if (is.null(fit$strata)) "all" else sub(".*=", "", names(fit$strata))
  do.call(rbind, lapply(seq_along(groups), function(i) {
    pick <- function(m) if (is.matrix(m)) m[i, ] else m
    data.frame(conf_type = conf, group = groups[i], quantile = c(0.25, 0.5, 0.75),
               estimate = fmt(pick(qq$quantile)), lower = fmt(pick(qq$lower)),
               upper = fmt(pick(qq$upper)))
  }))
}
w(do.call(rbind, lapply(c("log", "log-log", "plain"), function(ct) rbind(
  q(survfit(Surv(time, status) ~ 1, data = lung2, conf.type = ct), ct),
  q(survfit(Surv(time, status) ~ sex, data = lung2, conf.type = ct), ct)))), "quantiles_lung.csv")
w(q(survfit(Surv(time, event) ~ group, data = ties), "log"), "quantiles_ties.csv")

# Survival at fixed times ----------------------------------------------------------------------
s <- summary(survfit(Surv(time, status) ~ sex, data = lung2), times = c(30, 90, 180, 365))
w(data.frame(group = sub(".*=", "", as.character(s$strata)), time = s$time, n_risk = s$n.risk,
             estimate = fmt(s$surv), std_err = fmt(s$std.err), lower = fmt(s$lower),
             upper = fmt(s$upper)), "survival_at_lung.csv")

# Log-rank -------------------------------------------------------------------------------------
lr <- function(d, label) data.frame(test = label, group = sub(".*=", "", names(d$n)),
                                    observed = fmt(if (is.matrix(d$obs)) rowSums(d$obs) else d$obs),
                                    expected = fmt(if (is.matrix(d$exp)) rowSums(d$exp) else d$exp),
                                    chisq = fmt(d$chisq), df = length(d$n) - 1,
                                    p_value = fmt(pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE)))
w(rbind(lr(survdiff(Surv(time, status) ~ sex, data = lung2), "lung_sex"),
        lr(survdiff(Surv(time, status) ~ sex + strata(inst), data = lung2), "lung_sex_strata_inst"),
        lr(survdiff(Surv(time, event) ~ group, data = ties), "ties_group"),
        lr(survdiff(Surv(time, event) ~ site, data = ties), "ties_site"),
        lr(survdiff(Surv(time, event) ~ group + strata(site), data = ties), "ties_group_strata_site")),
  "logrank.csv")

# Cumulative incidence (Aalen-Johansen), cmprsk::cuminc ---------------------------------------
ci <- cuminc(ties$time, ties$cause, group = ties$group, cencode = 0)
rows <- list()
for (nm in names(ci)[names(ci) != "Tests"]) {
  parts <- strsplit(nm, " ")[[1]]
  e <- ci[[nm]]
  rows[[nm]] <- data.frame(group = parts[1], cause = as.integer(parts[2]), time = e$time,
                           estimate = fmt(e$est), variance = fmt(e$var))
}
w(do.call(rbind, rows), "cuminc_ties.csv")

# Restricted mean survival time (survival's print.survfit, rmean = tau) -----------------------
rm_rows <- list()
for (tau in c(200, 500)) {
  fit <- survfit(Surv(time, status) ~ sex, data = lung2)
  tab <- summary(fit, rmean = tau)$table
  rm_rows[[as.character(tau)]] <- data.frame(tau = tau, group = sub(".*=", "", rownames(tab)),
                                             rmean = fmt(tab[, "rmean"]),
                                             se = fmt(tab[, "se(rmean)"]))
}
w(do.call(rbind, rm_rows), "rmst_lung.csv")
cat("written to", out, "\n")
