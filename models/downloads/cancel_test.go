package downloads

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTrainStopsWhenCancelled: golearn cannot stop a tree it is fitting,
// so cancelling a training must not wait for the trees under way: Train
// returns while they are still being fitted (here: blocked until the test
// ends), which is what lets Ctrl-C stop a long training at once.
func TestTrainStopsWhenCancelled(t *testing.T) {
	ex := loadRun(t, "lab-dev", "train-near")
	release := make(chan struct{})
	defer close(release)
	fitting := make(chan struct{}, 64)
	opts := DefaultTrainOptions()
	opts.Verifier.fit = func([][]float64, []int64, []int, int64) (*TreeNode, error) {
		fitting <- struct{}{}
		<-release
		return &TreeNode{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-fitting
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Train(ctx, ex, labCatalog(t), opts)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Minute): // a guard against hanging, not a measurement
		t.Fatal("Train waited for the trees being fitted")
	}
}

// TestTrainBaselineCancelled: the baseline's golearn tree is not fitted
// at all once the context is done.
func TestTrainBaselineCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainBaseline(ctx, loadRun(t, "lab-dev", "train-near"), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
