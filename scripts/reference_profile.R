# Profile-likelihood 95% intervals of the drug coefficient of the protocol's model (issue 24),
# computed once with R's survival and stored in testdata/cox_profile/ (scripts/reference_profile.sh).
# Two datasets made here with a fixed seed: one with few events, one with many. The model is the
# protocol's: coxph(Surv(time, event) ~ drug + male + age10 + age10sq + strata(site), ties = "efron")
# with age10 = (age - 60) / 10, age10sq = age10^2. The profile log likelihood at b is the maximum over
# the other coefficients with the drug coefficient held fixed through an offset:
#   coxph(Surv(time, event) ~ male + age10 + age10sq + offset(b * drug) + strata(site), ties = "efron")
# and the interval's endpoints are where 2 (loglik_max - loglik_profile(b)) = qchisq(0.95, 1), found
# by uniroot on each side of the estimate.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]

make <- function(n, sites, base_rate, seed) {
  set.seed(seed)
  site <- sample(sites, n, replace = TRUE)
  drug <- rbinom(n, 1, 0.5)
  male <- rbinom(n, 1, 0.5)
  age <- sample(20:89, n, replace = TRUE)
  age10 <- (age - 60) / 10
  hazard <- base_rate * exp(log(2) * drug + 0.3 * male + 0.2 * age10 + 0.1 * site)
  event_day <- rexp(n, hazard)
  censor_day <- runif(n, 1, 730)
  # Weeks: so that event times tie and Efron's handling of ties matters.
  time <- ceiling(pmin(event_day, censor_day) / 7)
  event <- as.integer(event_day <= censor_day)
  data.frame(time = time, event = event, drug = drug, male = male, age = age, site = site)
}

control <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 200)
reference <- function(name, d) {
  d$age10 <- (d$age - 60) / 10
  d$age10sq <- d$age10^2
  fit <- coxph(Surv(time, event) ~ drug + male + age10 + age10sq + strata(site), data = d, ties = "efron",
               control = control)
  lmax <- fit$loglik[2]
  bhat <- unname(coef(fit)["drug"])
  se <- sqrt(vcov(fit)["drug", "drug"])
  profile <- function(b) {
    coxph(Surv(time, event) ~ male + age10 + age10sq + offset(b * drug) + strata(site), data = d,
          ties = "efron", control = control)$loglik[2]
  }
  crit <- qchisq(0.95, 1)
  g <- function(b) 2 * (lmax - profile(b)) - crit
  lo <- uniroot(g, c(bhat - 10 * se, bhat), tol = 1e-13)$root
  hi <- uniroot(g, c(bhat, bhat + 10 * se), tol = 1e-13)$root
  data.frame(dataset = name, patients = nrow(d), events = sum(d$event), coef = bhat, se = se, loglik = lmax,
             profile_lo = lo, profile_hi = hi, wald_lo = bhat - qnorm(0.975) * se, wald_hi = bhat + qnorm(0.975) * se)
}

datasets <- list(few = make(600, 3, 0.000015, 24), many = make(3000, 4, 0.0004, 25))
rows <- list()
for (name in names(datasets)) {
  write.csv(datasets[[name]], file.path(dirname(out), paste0(name, ".csv")), row.names = FALSE, quote = FALSE)
  rows[[name]] <- reference(name, datasets[[name]])
}
result <- do.call(rbind, rows)
header <- c(
  paste0("# R ", R.version$major, ".", R.version$minor, ", survival ", packageVersion("survival"),
         "; written by scripts/reference_profile.R"),
  "# fit: coxph(Surv(time, event) ~ drug + male + age10 + age10sq + strata(site), ties = \"efron\", control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 200)), age10 = (age - 60) / 10, age10sq = age10^2",
  "# profile(b): coxph(Surv(time, event) ~ male + age10 + age10sq + offset(b * drug) + strata(site), ties = \"efron\", same control)$loglik[2]",
  "# profile_lo, profile_hi: uniroot(function(b) 2 * (loglik - profile(b)) - qchisq(0.95, 1), c(coef -/+ 10 se, coef), tol = 1e-13) on each side"
)
writeLines(header, out)
suppressWarnings(write.table(result, out, sep = ",", row.names = FALSE, quote = FALSE, append = TRUE))  # the header after the comments
print(result, digits = 12)
