# R survey 4.1-1's svyciprop(method = "beta") (Korn-Graubard) and method = "logit" on designs where
# its n is the domain's, for tests/analysis/test_analysis_korn_graubard.py.
#   Rscript tests/analysis/r/beta.R tests/analysis/fixtures/r
# Reads responses.csv and cells.csv (wave 2025 only) and writes beta.csv.
# Designs, not calibrated, so subset() drops the rows outside a domain and nrow() is the domain's n:
#   nofpc: svydesign(ids=~1, strata=~township, weights=~N/n), no fpc: n_eff (t_{n-1}/t_df)^2 <= n
#          in the townships (n_eff = n - 1 there), so R's uncapped n* is the capped one;
#   fpc:   the same with fpc=~N: within a township n_eff = (n - 1)/(1 - f) > n, where the cap binds.
# Variables: safety (codes 1-3 of q_safety, DK/refused NA) and allsafe (safety, but 1 for every
# valid answer in T01: an estimate of 1, where "beta" gives NaN and "logit" the point [1, 1]).
suppressMessages(library(survey))
dir <- commandArgs(TRUE)[1]
resp <- read.csv(file.path(dir, "responses.csv"), colClasses = c(id = "character", township = "character"))
cells <- read.csv(file.path(dir, "cells.csv"), colClasses = c(township = "character"))
d <- resp[resp$wave == 2025, ]
d$safety <- ifelse(d$q_safety %in% c(8, 9), NA, as.numeric(d$q_safety %in% 1:3))
d$allsafe <- ifelse(d$township == "T01" & !is.na(d$safety), 1, d$safety)
totals <- aggregate(N ~ township, cells, sum)
d$N <- totals$N[match(d$township, totals$township)]
d$w <- d$N / ave(d$N, d$township, FUN = length)
designs <- list(nofpc = svydesign(ids = ~1, strata = ~township, weights = ~w, data = d),
                fpc = svydesign(ids = ~1, strata = ~township, fpc = ~N, data = d))
num <- function(x) sprintf("%.17g", x)
rows <- list()
for (m in names(designs)) {
  for (v in c("safety", "allsafe")) {
    f <- as.formula(paste0("~", v))
    for (t in c(sort(unique(d$township)), "ALL")) {
      keep <- !is.na(d[[v]]) & (t == "ALL" | d$township == t)
      sub <- designs[[m]][keep, ]
      est <- svymean(f, sub)
      beta <- suppressWarnings(attr(svyciprop(f, sub, method = "beta"), "ci"))
      logit <- suppressWarnings(attr(svyciprop(f, sub, method = "logit"), "ci"))
      rows[[length(rows) + 1]] <- data.frame(
        design = m, index = v, stratum = t, n = nrow(sub), df = degf(sub), estimate = num(coef(est)),
        se = num(SE(est)), beta_low = num(beta[1]), beta_high = num(beta[2]), logit_low = num(logit[1]),
        logit_high = num(logit[2]))
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "beta.csv"), row.names = FALSE, quote = FALSE)
