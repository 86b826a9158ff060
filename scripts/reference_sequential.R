# Reference boundaries for src/stats/sequential.rs, computed with R's rpact (Debian's r-cran-rpact).
# Run through scripts/reference_sequential.sh, which installs R and rpact when missing. Writes
# testdata/sequential/boundaries.csv: one row per look of each design, with the midnet fractions the
# test gives (information proportional to them), rpact's critical value (empty where midnet's rule
# gives the look no boundary), rpact's cumulative alpha spent, and the exact R call.
suppressPackageStartupMessages(library(rpact))

of <- function(alpha, t) 2 * (1 - pnorm(qnorm(1 - alpha / 2) / sqrt(t)))
pocock <- function(alpha, t) alpha * log(1 + (exp(1) - 1) * t)

rows <- list()
add <- function(case, spending, alpha, fractions, call, crossable) {
  design <- eval(parse(text = call))
  k <- 0
  for (i in seq_along(fractions)) {
    if (crossable[i]) {
      k <- k + 1
      critical <- sprintf("%.15g", design$criticalValues[k])
      spent <- sprintf("%.15g", design$alphaSpent[k])
    } else {
      critical <- ""
      spent <- ""
    }
    rows[[length(rows) + 1]] <<- data.frame(
      case = case, spending = spending, alpha = alpha, look = i,
      fraction = sprintf("%.15g", fractions[i]), critical = critical, alpha_spent = spent,
      r_call = call, stringsAsFactors = FALSE)
  }
}

vec <- function(x) paste0("c(", paste(sprintf("%.15g", x), collapse = ", "), ")")
planned <- function(case, spending, alpha, fractions) {
  type <- if (spending == "obrien_fleming") "asOF" else "asP"
  call <- sprintf(
    "getDesignGroupSequential(kMax = %d, alpha = %s, sided = 1, typeOfDesign = \"%s\", informationRates = %s)",
    length(fractions), format(alpha), type, vec(fractions))
  add(case, spending, alpha, fractions, call, rep(TRUE, length(fractions)))
}

for (spending in c("obrien_fleming", "pocock")) {
  for (k in 2:8) planned(sprintf("%s_equal_%d", spending, k), spending, 0.025, (1:k) / k)
  planned(sprintf("%s_unequal_4", spending), spending, 0.025, c(0.2, 0.45, 0.7, 1))
  planned(sprintf("%s_unequal_5", spending), spending, 0.025, c(0.1, 0.3, 0.35, 0.8, 1))
  planned(sprintf("%s_unequal_8", spending), spending, 0.025, c(0.2, 0.3, 0.45, 0.5, 0.6, 0.75, 0.9, 1))
  planned(sprintf("%s_alpha_05_3", spending), spending, 0.05, c(0.25, 0.6, 1))

  # A look whose information is not above the previous one's spends nothing (midnet's rule): the
  # other looks are rpact's design without it.
  type <- if (spending == "obrien_fleming") "asOF" else "asP"
  call <- sprintf(
    "getDesignGroupSequential(kMax = 3, alpha = 0.025, sided = 1, typeOfDesign = \"%s\", informationRates = c(0.3, 0.6, 1))",
    type)
  add(sprintf("%s_shrinking_look", spending), spending, 0.025, c(0.3, 0.6, 0.5, 1), call, c(TRUE, TRUE, FALSE, TRUE))

  # Looks that overrun the plan (fractions above 1) spend what is left of alpha: rpact's user-defined
  # spending at the same information rates (relative to the last look) with alpha(t) at the planned
  # fractions and all of alpha at the overrunning one.
  f <- if (spending == "obrien_fleming") of else pocock
  for (fractions in list(c(0.5, 1.2), c(0.4, 0.8, 1.3))) {
    k <- length(fractions)
    call <- sprintf(
      "getDesignGroupSequential(kMax = %d, alpha = 0.025, sided = 1, typeOfDesign = \"asUser\", informationRates = %s, userAlphaSpending = %s)",
      k, vec(fractions / fractions[k]), vec(c(f(0.025, fractions[-k]), 0.025)))
    add(sprintf("%s_overrun_%d", spending, k), spending, 0.025, fractions, call, rep(TRUE, k))
  }
}

out <- do.call(rbind, rows)
path <- commandArgs(trailingOnly = TRUE)[1]
con <- file(path, "w")
writeLines(sprintf("# rpact %s, %s; written by scripts/reference_sequential.sh", packageVersion("rpact"),
                   R.version.string), con)
write.csv(out, con, row.names = FALSE)
close(con)
