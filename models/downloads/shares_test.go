package downloads

// Shares of a Report the tests check.

func share(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// accuracy is the share of single-file catalog downloads named correctly.
func accuracy(r *Report) float64 { return share(r.KnownCorrect, r.Known) }

// rejection is the share of non-catalog downloads answered "unknown".
func rejection(r *Report) float64 { return share(r.UnknownCorrect, r.Unknown) }

// simRejection is the share of simulated non-catalog downloads answered
// "unknown".
func simRejection(r *Report) float64 { return share(r.SimUnknownCorrect, r.SimUnknown) }

// recovery is the share of files in multi-file connections that were
// named.
func recovery(r *Report) float64 { return share(r.MultiFound, r.MultiFiles) }
