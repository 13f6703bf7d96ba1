package downloads

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/fingerflow/fingerflow/features"
	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/trees"
)

// Baseline is the published method: a decision tree on a flow's byte count
// alone, one class per file seen in training. It has no notion of unknown
// files: every download gets the nearest class. It is trained and scored
// beside the model so evaluations show both on the same data.
type Baseline struct {
	Tree  *TreeNode `json:"tree"`
	Files []string  `json:"files"` // class index → file name
}

// baselineRows caps the baseline's training rows: golearn's CART is O(n²).
const baselineRows = 3000

// TrainBaseline fits the byte-count tree on single-file catalog downloads.
// It returns ErrNoExamples when there are none, and ctx's error as soon as
// ctx is done (a fit under way then finishes in the background).
func TrainBaseline(ctx context.Context, examples []Example, seed uint64) (*Baseline, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := &Baseline{}
	class := map[string]int{}
	var xs []float64
	var ys []int64
	for _, ex := range examples {
		if len(ex.Files) != 1 || !ex.Known {
			continue
		}
		c, ok := class[ex.Files[0]]
		if !ok {
			c = len(b.Files)
			class[ex.Files[0]] = c
			b.Files = append(b.Files, ex.Files[0])
		}
		xs = append(xs, float64(ex.Download.Bytes))
		ys = append(ys, int64(c))
	}
	if len(xs) == 0 {
		return nil, ErrNoExamples
	}
	rows := make([]int, len(xs))
	for i := range rows {
		rows[i] = i
	}
	if len(rows) > baselineRows {
		rng := rand.New(rand.NewPCG(seed, 0x62617365))
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		rows = rows[:baselineRows]
	}
	inst := base.NewDenseInstances()
	attr := base.NewFloatAttribute("bytes")
	cls := base.NewFloatAttribute("file")
	as := inst.AddAttribute(attr)
	cs := inst.AddAttribute(cls)
	if err := inst.AddClassAttribute(cls); err != nil {
		return nil, err
	}
	if err := inst.Extend(len(rows)); err != nil {
		return nil, err
	}
	labels := make([]int64, len(b.Files))
	for i := range labels {
		labels[i] = int64(i)
	}
	for r, i := range rows {
		inst.Set(as, r, base.PackFloatToBytes(xs[i]))
		inst.Set(cs, r, base.PackFloatToBytes(float64(ys[i])))
	}
	// scikit-learn's defaults, as in the published study: grow until pure.
	tree := trees.NewDecisionTreeClassifier(trees.GINI, -1, labels)
	var fitErr error
	if err := waitCtx(ctx, func() { fitErr = tree.Fit(inst) }); err != nil {
		return nil, err
	}
	if fitErr != nil {
		return nil, fmt.Errorf("baseline: %w", fitErr)
	}
	raw, err := json.Marshal(tree.RootNode)
	if err != nil {
		return nil, err
	}
	b.Tree = &TreeNode{}
	if err := json.Unmarshal(raw, b.Tree); err != nil {
		return nil, err
	}
	return b, nil
}

// Classify names the file whose byte-count region the download falls in.
func (b *Baseline) Classify(d *features.Download) Result {
	c := b.Tree.predict([]float64{float64(d.Bytes)})
	if c < 0 || int(c) >= len(b.Files) {
		return Result{}
	}
	return Result{Files: []string{b.Files[c]}, Confidence: 1}
}
