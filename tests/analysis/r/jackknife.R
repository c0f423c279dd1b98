# Jackknife and county-calibration reference numbers from R survey (4.1-1) for
# tests/analysis/test_analysis_jackknife.py.
#   Rscript tests/analysis/r/jackknife.R tests/analysis/fixtures/r
# Reads responses.csv, cells.csv and margins.csv (as reference.R) and writes jackknife.csv: per wave x design
# x stratum x index the estimate and SE. Designs (svydesign(ids=~1, strata=~township, fpc=~N) per wave):
#   ps-jk:     as.svrepdesign(type="JKn", mse=TRUE), then postStratify(~township+age_group+sex) per replicate
#   rake-jk:   the same replicates raked to ~township+age_group and ~township+sex
#   county:    calibrate(~township + cell, calfun="raking") to every township's N and the county's age x sex
#              cells (linearised)
#   county-jk: the same calibration on the JKn replicates
# Domains: rows of the township with a valid answer, kept with weight 0 (design[rows, ]).
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
resp$cell <- factor(paste(resp$age_group, resp$sex))
cells$cell <- factor(paste(cells$age_group, cells$sex), levels = levels(resp$cell))
pop_cells <- setNames(cells[, c("township", "age_group", "sex", "N")], c("township", "age_group", "sex", "Freq"))
pop_age <- setNames(margins[margins$margin == "age_group", c("township", "level", "N")],
                    c("township", "age_group", "Freq"))
pop_sex <- setNames(margins[margins$margin == "sex", c("township", "level", "N")], c("township", "sex", "Freq"))

county_totals <- function(d) {
  towns <- sort(unique(d$township))
  by_town <- totals$N[match(towns, totals$township)]
  by_cell <- tapply(cells$N, cells$cell, sum)
  c(`(Intercept)` = sum(by_town), setNames(by_town[-1], paste0("township", towns[-1])),
    setNames(as.numeric(by_cell[-1]), paste0("cell", levels(resp$cell)[-1])))
}

num <- function(x) sprintf("%.17g", x)
rows <- list()
for (wave in sort(unique(resp$wave))) {
  d <- resp[resp$wave == wave, ]
  des <- svydesign(ids = ~1, strata = ~township, fpc = ~N, data = d)
  jk <- as.svrepdesign(des, type = "JKn", mse = TRUE)
  pop <- county_totals(d)
  designs <- list(
    `ps-jk` = postStratify(jk, ~township + age_group + sex, pop_cells),
    `rake-jk` = rake(jk, list(~township + age_group, ~township + sex), list(pop_age, pop_sex),
                     control = list(maxit = 1000, epsilon = 1e-14)),
    county = calibrate(des, ~township + cell, pop, calfun = "raking", maxit = 1000, epsilon = 1e-14),
    `county-jk` = calibrate(jk, ~township + cell, pop, calfun = "raking", maxit = 1000, epsilon = 1e-14))
  for (m in names(designs)) {
    ds <- designs[[m]]
    for (v in c("safety", "safety_score", "police")) {
      f <- as.formula(paste0("~", v))
      for (t in c(sort(unique(d$township)), "ALL")) {
        keep <- !is.na(d[[v]]) & (t == "ALL" | d$township == t)
        est <- svymean(f, ds[keep, ], na.rm = TRUE)
        rows[[length(rows) + 1]] <- data.frame(period = wave, design = m, stratum = t, index = v,
                                               estimate = num(coef(est)), se = num(SE(est)))
      }
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "jackknife.csv"), row.names = FALSE, quote = FALSE)
