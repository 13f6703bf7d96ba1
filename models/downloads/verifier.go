package downloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/trees"
)

// Why a verifier instead of one tree over all catalog files: golearn's CART
// classifier (the only golearn tree that splits a continuous feature at
// many thresholds) costs O(n²) per level in the number of training rows and
// needs a class per catalog file, so a tree over 3,000 files and 100,000
// flows would train for hours and still force every unknown download into
// some class. Instead the catalog is narrowed to a handful of candidates by
// expected payload (an index lookup), and the tree answers one small binary
// question for each candidate: does this flow's residual (bytes left after
// the file's expected payload, its remainder modulo the segment size, the
// implied retransmission rate, how many closer candidates exist) look like
// a download of that file? The question does not depend on which file it
// is, so a few thousand rows train it in seconds, it transfers to catalog
// entries never seen in the lab, and "no candidate accepted" is the open-set
// answer "unknown".

// Candidate feature vector layout (see Model.candidates).
const (
	featModDist     = iota // |extra mod segment| folded to [0, segment/2], bytes
	featExtraFrac          // extra / expected payload
	featExtraSeg           // extra / segment size
	featRank               // candidates with a larger expected payload that still fit the flow
	featRevExcess          // reverse payload beyond one request, per segment; 0 unknown
	featAlign              // residue's distance from a multiple of the segment's grain, as a share of the grain (0..0.5)
	featExtraPerRev        // extra bytes per reverse byte beyond one request (SACK options grow with losses); 0 unknown
	featTLS                // 1 when the profile has TLS record framing (short segments at record ends make retransmitted pieces of any size)
	featGrain              // the segment's grain in bytes: alignment to a larger grain is rarer by chance
	numFeatures
)

// featureNames name the verifier's features, in vector order.
var featureNames = [numFeatures]string{"mod_dist", "extra_frac", "extra_seg", "rank", "rev_excess", "align", "extra_per_rev", "tls", "grain"}

// FeatureNames names the verifier's features, in vector order.
func FeatureNames() []string { return slices.Clone(featureNames[:]) }

// TreeNode is one node of a trained CART tree, in the shape golearn's
// classifier serialises (its node type is unexported; field names match so
// that JSON round-trips through golearn's own tree).
type TreeNode struct {
	Left       *TreeNode `json:"Left"`
	Right      *TreeNode `json:"Right"`
	Threshold  float64   `json:"Threshold"`
	Feature    int64     `json:"Feature"`
	LeftLabel  int64     `json:"LeftLabel"`
	RightLabel int64     `json:"RightLabel"`
}

// predict walks the tree the way golearn's classifierPredictSingle does.
func (n *TreeNode) predict(x []float64) int64 {
	for {
		if x[n.Feature] < n.Threshold {
			if n.Left == nil {
				return n.LeftLabel
			}
			n = n.Left
		} else {
			if n.Right == nil {
				return n.RightLabel
			}
			n = n.Right
		}
	}
}

// checkClasses validates a one-feature tree whose leaves name classes
// 0..classes-1 (the baseline).
func (n *TreeNode) checkClasses(depth, classes int) error {
	if depth > 10000 {
		return errors.New("tree too deep")
	}
	if n.Feature != 0 {
		return fmt.Errorf("tree splits on feature %d, want 0", n.Feature)
	}
	for _, l := range []int64{n.LeftLabel, n.RightLabel} {
		if l < 0 || l >= int64(classes) {
			return fmt.Errorf("tree names class %d of %d", l, classes)
		}
	}
	for _, c := range []*TreeNode{n.Left, n.Right} {
		if c != nil {
			if err := c.checkClasses(depth+1, classes); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *TreeNode) check(depth int) error {
	if depth > 64 {
		return errors.New("tree deeper than 64 levels")
	}
	if n.Feature < 0 || n.Feature >= numFeatures {
		return fmt.Errorf("tree splits on feature %d, want 0..%d", n.Feature, numFeatures-1)
	}
	for _, c := range []*TreeNode{n.Left, n.Right} {
		if c != nil {
			if err := c.check(depth + 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verifier is a small bag of golearn CART trees deciding whether a
// (download, candidate file) pair is a match. The share of trees voting
// "match" is the confidence.
type Verifier struct {
	Trees []*TreeNode
	// NoRev are trees trained without the reverse-direction features, for
	// downloads whose client→server flow was not seen.
	NoRev []*TreeNode
}

// revFeatures are the features that need the reverse direction.
var revFeatures = []int{featRevExcess, featExtraPerRev}

// dropRev blanks the reverse-direction features of x.
func dropRev(x []float64) {
	for _, f := range revFeatures {
		x[f] = 0
	}
}

// VerifierConfig tunes training.
type VerifierConfig struct {
	Trees    int   // trees in the bag
	Rows     int   // bootstrap rows per tree (CART is O(n²): keep it to a few thousand)
	MaxDepth int64 // maximum tree depth
	Seed     uint64

	// fit trains one tree (fitCART when nil); tests replace it.
	fit func(X [][]float64, y []int64, rows []int, maxDepth int64) (*TreeNode, error)
}

// DefaultVerifierConfig trains 15 trees of depth 8 on 2,500 rows each:
// fewer trees give coarser scores (lab runs lost accuracy and rejections
// with 7), and training stays at seconds on two cores.
func DefaultVerifierConfig() VerifierConfig {
	return VerifierConfig{Trees: 15, Rows: 2500, MaxDepth: 8, Seed: 1}
}

// TrainVerifier fits the bag on feature rows X with labels y (1 match, 0 not).
// When ctx is cancelled it returns ctx's error at once; trees being fitted
// then (golearn cannot stop one) finish in the background and are dropped.
func TrainVerifier(ctx context.Context, X [][]float64, y []int64, cfg VerifierConfig) (*Verifier, error) {
	if cfg.Trees < 1 {
		return nil, fmt.Errorf("verifier: %d trees, want 1 or more", cfg.Trees)
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("verifier: %d rows and %d labels", len(X), len(y))
	}
	var pos, neg []int
	for i, v := range y {
		if v == 1 {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		return nil, fmt.Errorf("verifier: need matching and non-matching examples, have %d and %d", len(pos), len(neg))
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x66696e676572))
	v := &Verifier{}
	var err error
	if v.Trees, err = trainBag(ctx, X, y, pos, neg, cfg, rng); err != nil {
		return nil, err
	}
	noRev := make([][]float64, len(X))
	for i, x := range X {
		noRev[i] = append([]float64(nil), x...)
		dropRev(noRev[i])
	}
	if v.NoRev, err = trainBag(ctx, noRev, y, pos, neg, cfg, rng); err != nil {
		return nil, err
	}
	return v, nil
}

func trainBag(ctx context.Context, X [][]float64, y []int64, pos, neg []int, cfg VerifierConfig, rng *rand.Rand) ([]*TreeNode, error) {
	// Draw every tree's rows first, from the one seeded source, so the bag
	// is the same whatever the scheduling; then fit the trees in parallel
	// (golearn's CART is single-threaded and dominates training time).
	samples := make([][]int, cfg.Trees)
	for t := range samples {
		// Stratified bootstrap: half matches, half non-matches, so the
		// tree sees both sides of the boundary whatever the class ratio.
		n := min(cfg.Rows, len(X))
		rows := make([]int, 0, n)
		for i := 0; i < n; i++ {
			src := neg
			if i%2 == 0 {
				src = pos
			}
			rows = append(rows, src[rng.IntN(len(src))])
		}
		samples[t] = rows
	}
	fit := cfg.fit
	if fit == nil {
		fit = fitCART
	}
	bag := make([]*TreeNode, cfg.Trees)
	errs := make([]error, cfg.Trees)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	for t := range samples {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			bag[t], errs[t] = fit(X, y, samples[t], cfg.MaxDepth)
		}()
	}
	if err := waitCtx(ctx, wg.Wait); err != nil {
		return nil, err
	}
	return bag, errors.Join(errs...)
}

// waitCtx runs wait in the background and returns when it does, or with
// ctx's error as soon as ctx is done (wait then finishes unobserved).
func waitCtx(ctx context.Context, wait func()) error {
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fitCART trains one golearn CART classifier on the selected rows and
// returns its tree.
func fitCART(X [][]float64, y []int64, rows []int, maxDepth int64) (*TreeNode, error) {
	inst := base.NewDenseInstances()
	attrs := make([]base.Attribute, numFeatures+1)
	for i := range numFeatures {
		attrs[i] = base.NewFloatAttribute(featureNames[i])
	}
	attrs[numFeatures] = base.NewFloatAttribute("match")
	specs := make([]base.AttributeSpec, len(attrs))
	for i, a := range attrs {
		specs[i] = inst.AddAttribute(a)
	}
	if err := inst.AddClassAttribute(attrs[numFeatures]); err != nil {
		return nil, err
	}
	if err := inst.Extend(len(rows)); err != nil {
		return nil, err
	}
	for r, i := range rows {
		for f := range numFeatures {
			inst.Set(specs[f], r, base.PackFloatToBytes(X[i][f]))
		}
		inst.Set(specs[numFeatures], r, base.PackFloatToBytes(float64(y[i])))
	}
	tree := trees.NewDecisionTreeClassifier(trees.GINI, maxDepth, []int64{0, 1})
	if err := tree.Fit(inst); err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	// golearn's node type is unexported; its JSON form is the way out.
	raw, err := json.Marshal(tree.RootNode)
	if err != nil {
		return nil, err
	}
	var node TreeNode
	if err := json.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	return &node, nil
}

// Score is the share of trees that call x a match; rev says whether x's
// reverse-direction features are known.
func (v *Verifier) Score(x []float64, rev bool) float64 {
	bag := v.Trees
	if !rev {
		bag = v.NoRev
	}
	if len(bag) == 0 {
		return 0
	}
	votes := 0
	for _, t := range bag {
		if t.predict(x) == 1 {
			votes++
		}
	}
	return float64(votes) / float64(len(bag))
}

func (v *Verifier) check() error {
	if len(v.Trees) == 0 || len(v.NoRev) == 0 {
		return errors.New("verifier has no trees")
	}
	for i, t := range append(append([]*TreeNode(nil), v.Trees...), v.NoRev...) {
		if t == nil {
			return fmt.Errorf("verifier tree %d is empty", i)
		}
		if err := t.check(0); err != nil {
			return fmt.Errorf("verifier tree %d: %w", i, err)
		}
	}
	return nil
}
