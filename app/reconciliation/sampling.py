"""How many records a sample audit compares.

The question a daily sample answers: "is the share of records that differ from the base below
`rate`?". The sample is the smallest n such that, were `rate` of the N records wrong, a random
sample of n (drawn without replacement) would miss every wrong one with probability at most
1 - confidence. Hypergeometric, so exact for small clients too:

    P(miss all) = prod_{i<n} (N - D - i) / (N - i),   D = ceil(rate * N)

With the defaults (1% at 95% confidence) that is 294 of 10,000 records, 258 of 1,000, 95 of
100 (one wrong record in a hundred is found only by looking at nearly all), and 299 as N grows
(the binomial 0.99^n <= 0.05). Every record is compared when N is at most that size.
"""

import math


def sample_size(population: int, rate: float, confidence: float) -> int:
    if population <= 0:
        return 0
    wrong = max(1, math.ceil(rate * population))
    miss, allowed = 1.0, 1.0 - confidence
    for drawn in range(population):
        miss *= (population - wrong - drawn) / (population - drawn)
        if miss <= allowed:
            return drawn + 1
    return population
