// Package models holds no code: each model fingerflow learns lives in a
// package of its own below it (models/downloads is the download
// classifier). A model package computes results and never prints; the
// text, charts and HTML people read are made in reports.
package models
