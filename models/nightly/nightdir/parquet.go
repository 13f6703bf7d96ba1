package nightdir

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/datasets/flowio"
)

// ErrDamaged marks a file of the directory that is not what its name says
// (truncated, corrupt, or of another schema).
var ErrDamaged = errors.New("damaged")

// openParquet opens a Parquet file of the directory after checking that
// its footer and layout fit its bytes: parquet-go panics on files that
// break them.
func openParquet(path string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := flowio.CheckParquet(f, st.Size()); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: not a whole Parquet file: %w", ErrDamaged, err)
	}
	var pf *parquet.File
	if err := safely(func() (err error) {
		pf, err = parquet.OpenFile(f, st.Size())
		return err
	}); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return f, pf, nil
}

// safely runs f, turning a panic of the Parquet decoder into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: parquet decoder: %v", ErrDamaged, r)
		}
	}()
	return f()
}

// eachParquet hands every row of a Parquet file written from T to visit,
// a batch at a time. A file whose columns are not T's is an error, not a
// panic.
func eachParquet[T any](path string, opts []parquet.ReaderOption, visit func([]T) error) error {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var want *parquet.Schema
	for _, o := range opts {
		if s, ok := o.(*parquet.Schema); ok {
			want = s
		}
	}
	if want == nil {
		want = parquet.SchemaOf(new(T))
	}
	for _, field := range want.Fields() {
		if _, ok := pf.Schema().Lookup(field.Name()); !ok {
			return fmt.Errorf("%w: no column %q", ErrDamaged, field.Name())
		}
	}
	var r *parquet.GenericReader[T]
	if err := safely(func() error { r = parquet.NewGenericReader[T](pf, opts...); return nil }); err != nil {
		return err
	}
	defer r.Close()
	buf := make([]T, 4096)
	for {
		var k int
		var rerr error
		if err := safely(func() error { k, rerr = r.Read(buf); return nil }); err != nil {
			return err
		}
		if k > 0 {
			if err := visit(buf[:k]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%w: %w", ErrDamaged, rerr)
		}
	}
}

// readParquet reads every row of a Parquet file written from T.
func readParquet[T any](path string) ([]T, error) {
	var out []T
	err := eachParquet(path, nil, func(rows []T) error {
		out = append(out, rows...)
		return nil
	})
	return out, err
}
