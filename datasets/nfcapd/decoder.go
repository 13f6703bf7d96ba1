package nfcapd

import (
	"context"

	"github.com/fingerflow/fingerflow/datasets"
)

var _ datasets.DecoderOpener = (*Reader)(nil)

// pooledFile is a File whose buffers go back to its Reader on Close.
type pooledFile struct {
	*File
	r *Reader
}

func (p pooledFile) Close() error {
	err := p.File.Close()
	p.r.pool.Put(p.buffers)
	return err
}

// OpenDecoder opens the file at path for decoding flows straight into the
// caller's records (File.Next), with block buffers reused from the
// Reader's earlier files; Close hands them back.
func (r *Reader) OpenDecoder(ctx context.Context, path string) (datasets.Decoder, error) {
	nf, err := r.open(ctx, path)
	if err != nil {
		return nil, err
	}
	return pooledFile{nf, r}, nil
}
