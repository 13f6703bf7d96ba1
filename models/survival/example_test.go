package survival_test

import (
	"fmt"

	"github.com/fingerflow/fingerflow/models/survival"
)

func Example() {
	// Flow durations in seconds on two ports. Flows still running when the
	// exporter's 30 s active timeout cut them are censored at 30 s.
	web := []float64{0.2, 0.4, 0.4, 1.5, 3, 7, 30, 30}
	ssh := []float64{2, 12, 30, 30, 30, 30}
	var webT, sshT survival.Tally
	for _, d := range web {
		webT.Add(d, d < 30, 1)
	}
	for _, d := range ssh {
		sshT.Add(d, d < 30, 1)
	}

	var km survival.KaplanMeier
	if err := km.FitCounts(webT.Counts()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("time  at risk  ended  survival  95% interval")
	for _, s := range km.Steps() {
		fmt.Printf("%4g  %7d  %5d  %8.3f  [%.3f, %.3f]\n", s.Time, s.AtRisk, s.Events, s.Survival, s.Lower, s.Upper)
	}
	lo, hi := km.MedianCI()
	fmt.Printf("median %g s [%g, %g]; P(lives > 5 s) = %.3f\n", km.Median(), lo, hi, km.Survival(5))

	var lr survival.LogRank
	if err := lr.Fit([][]survival.Count{webT.Counts(), sshT.Counts()}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("log-rank: chi2 %.3f on %d df, p = %.4f; ended %v, expected %.2f\n",
		lr.Statistic(), lr.DF(), lr.PValue(), lr.Observed(), lr.Expected())
	// Output:
	// time  at risk  ended  survival  95% interval
	//  0.2        8      1     0.875  [0.387, 0.981]
	//  0.4        7      2     0.625  [0.229, 0.861]
	//  1.5        5      1     0.500  [0.152, 0.775]
	//    3        4      1     0.375  [0.087, 0.674]
	//    7        3      1     0.250  [0.037, 0.558]
	//   30        2      0     0.250  [0.037, 0.558]
	// median 3 s [0.2, +Inf]; P(lives > 5 s) = 0.375
	// log-rank: chi2 3.053 on 1 df, p = 0.0806; ended [6 2], expected [3.61 4.39]
}
