# Reference numbers of test_three_margins_match_calibrate_and_rake (R survey 4.1-1):
#   Rscript tests/analysis/r/reference3.R tests/analysis/fixtures/r3
# Prints (estimate, SE after calibrate(calfun="raking"), SE after rake(), deff, degf) per domain.
suppressMessages(library(survey))
dir <- commandArgs(TRUE)[1]
d <- read.csv(file.path(dir, "responses.csv"), colClasses = c(id = "character"))
m <- read.csv(file.path(dir, "margins.csv"))
d$N <- c(A = 5200, B = 1900, C = 800)[d$township]
d$fav <- ifelse(d$q == 8, NA, as.numeric(d$q %in% 1:2))
pm <- function(v) { x <- m[m$margin == v, c("township", "level", "N")]; names(x) <- c("township", v, "Freq"); x }
des <- svydesign(ids = ~1, strata = ~township, fpc = ~N, data = d)
f <- list(~township + age_group, ~township + sex, ~township + edu)
p <- list(pm("age_group"), pm("sex"), pm("edu"))
cal <- calibrate(des, f, p, calfun = "raking", maxit = 1000, epsilon = 1e-13)
rk <- rake(des, f, p, control = list(maxit = 1000, epsilon = 1e-13))
for (t in c("A", "B", "C", "ALL")) {
  keep <- !is.na(d$fav) & (t == "ALL" | d$township == t)
  a <- svymean(~fav, cal[keep, ], na.rm = TRUE, deff = TRUE); b <- svymean(~fav, rk[keep, ], na.rm = TRUE)
  cat(sprintf('"%s": (%.17g, %.17g, %.17g, %.17g, %d),\n', t, coef(a), SE(a), SE(b), deff(a), degf(cal[keep, ])))
}
