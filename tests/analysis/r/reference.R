# Reference numbers from R survey (4.1-1) for tests/analysis/test_r_reference.py.
#   Rscript tests/analysis/r/reference.R tests/analysis/fixtures/r
# Reads responses.csv, cells.csv and margins.csv (written by make_fixture.py) and writes
# expected.csv (estimates, SEs, deff, df, CIs per wave x design x stratum x index) and weights.csv.
# Designs: svydesign(ids=~1, strata=~township, fpc=~N) per wave, then
#   poststratify: postStratify(~township+age_group+sex)
#   rake:         rake(list(~township+age_group, ~township+sex)), converged tightly (variance: 10 sweeps)
#   calibrate:    calibrate(same margins, calfun="raking")               (variance: exact projection)
#   bounded:      calibrate(same margins, calfun="raking", bounds=BOUNDS[[wave]]): truncated raking,
#                 what trimming (TrimRule(lower, upper)) converges to. The bounds bind in both waves;
#                 they differ by wave because R's Newton steps fail to converge for some bounds
#                 (its raking dF tests log g against the bounds minus 1).
# Domains: rows of the township with a valid answer, kept with weight 0 (design[rows, ]).
# CIs: shares svyciprop(method="xlogit", df=degf(domain)); scores confint(svymean, df=degf(domain)).
# Wilson (effective n capped at the domain n) and Korn-Graubard (n* = min(n, n_eff (t_{n-1}/t_df)^2),
# n the domain's) are written from their formulas, because R's svyciprop has no Wilson and its "beta"
# neither caps n_eff nor uses the domain's n for calibrated designs (beta.R compares it where it does).
suppressMessages(library(survey))
dir <- commandArgs(TRUE)[1]
resp <- read.csv(file.path(dir, "responses.csv"), colClasses = c(id = "character", township = "character",
                 age_group = "character", sex = "character"))
cells <- read.csv(file.path(dir, "cells.csv"), colClasses = c(township = "character", age_group = "character",
                  sex = "character"))
margins <- read.csv(file.path(dir, "margins.csv"), colClasses = "character")
margins$N <- as.numeric(margins$N)

resp$safety <- ifelse(resp$q_safety %in% c(8, 9), NA, as.numeric(resp$q_safety %in% 1:3))
points <- c(`1` = 100, `2` = 80, `3` = 60, `4` = 40, `5` = 0)
resp$safety_score <- ifelse(resp$q_safety %in% c(8, 9), NA, unname(points[as.character(resp$q_safety)]))
resp$police <- ifelse(resp$q_police == 8, NA, as.numeric(resp$q_police %in% 1:2))
totals <- aggregate(N ~ township, cells, sum)
resp$N <- totals$N[match(resp$township, totals$township)]

pop_cells <- setNames(cells, c("township", "age_group", "sex", "Freq"))
pop_age <- setNames(margins[margins$margin == "age_group", c("township", "level", "N")],
                    c("township", "age_group", "Freq"))
pop_sex <- setNames(margins[margins$margin == "sex", c("township", "level", "N")], c("township", "sex", "Freq"))

num <- function(x) sprintf("%.17g", x)
BOUNDS <- list(`2025` = c(0.6, 1.8), `2026` = c(0.5, 2))
rows <- list()
weights_out <- list()
for (wave in sort(unique(resp$wave))) {
  d <- resp[resp$wave == wave, ]
  des <- svydesign(ids = ~1, strata = ~township, fpc = ~N, data = d)
  designs <- list(
    poststratify = postStratify(des, ~township + age_group + sex, pop_cells),
    rake = rake(des, list(~township + age_group, ~township + sex), list(pop_age, pop_sex),
                control = list(maxit = 1000, epsilon = 1e-14)),
    calibrate = calibrate(des, list(~township + age_group, ~township + sex), list(pop_age, pop_sex),
                          calfun = "raking", maxit = 1000, epsilon = 1e-14),
    bounded = calibrate(des, list(~township + age_group, ~township + sex), list(pop_age, pop_sex),
                        calfun = "raking", bounds = BOUNDS[[as.character(wave)]], maxit = 1000, epsilon = 1e-14))
  for (m in names(designs)) {
    ds <- designs[[m]]
    weights_out[[length(weights_out) + 1]] <- data.frame(id = d$id, design = m, weight = num(weights(ds)))
    for (v in c("safety", "safety_score", "police")) {
      f <- as.formula(paste0("~", v))
      for (t in c(sort(unique(d$township)), "ALL")) {
        keep <- !is.na(d[[v]]) & (t == "ALL" | d$township == t)
        sub <- ds[keep, ]
        est_obj <- svymean(f, sub, na.rm = TRUE, deff = TRUE)
        est <- as.numeric(coef(est_obj)); se <- as.numeric(SE(est_obj)); df <- degf(sub); n <- sum(keep)
        if (v == "safety_score") {
          ci <- as.vector(confint(est_obj, df = df)); wil <- c(NA, NA); kg <- c(NA, NA)
        } else {
          ci <- as.vector(attr(svyciprop(f, sub, method = "xlogit", df = df, na.rm = TRUE), "ci"))
          neff <- est * (1 - est) / se^2
          z <- qnorm(0.975)
          ncap <- min(n, neff)
          wil <- (est + z^2 / (2 * ncap) + c(-1, 1) * z * sqrt(est * (1 - est) / ncap + z^2 / (4 * ncap^2))) /
            (1 + z^2 / ncap)
          nstar <- min(n, neff * (qt(0.975, n - 1) / qt(0.975, df))^2)
          kg <- c(qbeta(0.025, nstar * est, nstar * (1 - est) + 1), qbeta(0.975, nstar * est + 1, nstar * (1 - est)))
        }
        rows[[length(rows) + 1]] <- data.frame(
          period = wave, design = m, stratum = t, index = v, n = n, estimate = num(est), se = num(se),
          deff = num(as.numeric(deff(est_obj))), df = df, ci_low = num(ci[1]), ci_high = num(ci[2]),
          wilson_low = num(wil[1]), wilson_high = num(wil[2]), kg_low = num(kg[1]), kg_high = num(kg[2]))
      }
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "expected.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, weights_out), file.path(dir, "weights.csv"), row.names = FALSE, quote = FALSE)
