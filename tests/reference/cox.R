# Reference values for outcomes.survival.cox (R's coxph). Run from the repository root:
#   Rscript tests/reference/cox.R
suppressPackageStartupMessages(library(survival))
out <- "tests/reference"
fmt <- function(x) signif(x, 15)
lung2 <- read.csv(file.path(out, "lung.csv"))
lung2 <- lung2[complete.cases(lung2[, c("time", "status", "age", "ph_ecog", "sex")]), ]
ties <- read.csv(file.path(out, "ties.csv"))
ties$iop <- as.integer(ties$group == "iop")
ties$x2 <- ((seq_len(nrow(ties)) * 37) %% 11) / 10  # a deterministic second covariate
ties$client <- paste0("K", (seq_len(nrow(ties)) - 1) %/% 3)  # clusters of three
write.csv(ties, file.path(out, "ties_cox.csv"), row.names = FALSE)
row <- function(model, fit, robust = FALSE) {
  s <- summary(fit)$coefficients
  data.frame(model = model, term = rownames(s), estimate = fmt(s[, "coef"]),
             std_error = fmt(if (robust) sqrt(diag(fit$naive.var)) else s[, "se(coef)"]),
             robust_std_error = if (robust) fmt(s[, "robust se"]) else NA,
             loglik = fmt(fit$loglik[2]), concordance = fmt(fit$concordance["concordance"]),
             n = fit$n, n_events = fit$nevent)
}
rows <- rbind(
  row("lung_efron", coxph(Surv(time, status) ~ age + ph_ecog + sex, data = lung2)),
  row("lung_breslow", coxph(Surv(time, status) ~ age + ph_ecog + sex, data = lung2,
                            ties = "breslow")),
  row("ties_efron", coxph(Surv(time, event) ~ iop + x2, data = ties)),
  row("ties_breslow", coxph(Surv(time, event) ~ iop + x2, data = ties, ties = "breslow")),
  row("ties_robust", coxph(Surv(time, event) ~ iop + x2, data = ties, robust = TRUE), TRUE),
  row("ties_cluster", coxph(Surv(time, event) ~ iop + x2, data = ties, cluster = client), TRUE),
  row("ties_weights", coxph(Surv(time, event) ~ iop + x2, data = ties, weights = weight,
                            robust = TRUE), TRUE),
  row("ties_weights_cluster", coxph(Surv(time, event) ~ iop + x2, data = ties,
                                    weights = weight, cluster = client), TRUE),
  row("ties_strata", coxph(Surv(time, event) ~ iop + x2 + strata(site), data = ties))
)
# The Rossi recidivism data (carData; apt-get install r-cran-cardata), as in the survival
# literature: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio)
rossi <- carData::Rossi[, c("week", "arrest", "fin", "age", "race", "wexp", "mar", "paro",
                            "prio")]
write.csv(rossi, file.path(out, "rossi.csv"), row.names = FALSE)
rows <- rbind(rows,
  row("rossi_efron", coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                           data = rossi)),
  row("rossi_breslow", coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                             data = rossi, ties = "breslow")))
write.csv(rows, file.path(out, "cox.csv"), row.names = FALSE)
cat("written\n")

# Proportional-hazards tests, cox.zph(fit) with the default km transform ------------------------
zph <- function(model, fit) {
  tab <- cox.zph(fit)$table
  data.frame(model = model, term = rownames(tab), chisq = fmt(tab[, "chisq"]),
             df = tab[, "df"], p_value = fmt(tab[, "p"]))
}
ties$groupf <- factor(ties$group)
write.csv(rbind(
  zph("lung_efron", coxph(Surv(time, status) ~ age + ph_ecog + sex, data = lung2)),
  zph("lung_breslow", coxph(Surv(time, status) ~ age + ph_ecog + sex, data = lung2,
                            ties = "breslow")),
  zph("ties_efron", coxph(Surv(time, event) ~ iop + x2, data = ties)),
  zph("ties_weights", coxph(Surv(time, event) ~ iop + x2, data = ties, weights = weight)),
  zph("ties_strata", coxph(Surv(time, event) ~ iop + x2 + strata(site), data = ties)),
  zph("ties_factor", coxph(Surv(time, event) ~ site + x2, data = ties))
), file.path(out, "cox_zph.csv"), row.names = FALSE)
cat("zph written\n")

# Propensity model (outcomes.compare.propensity): glm on Rossi, fitted probabilities ------------
ps <- glm(I(fin == "yes") ~ age + race + wexp + mar + prio, family = binomial, data = rossi)
write.csv(data.frame(ps = fmt(fitted(ps))), file.path(out, "rossi_propensity.csv"),
          row.names = FALSE)
cat("propensity written\n")
