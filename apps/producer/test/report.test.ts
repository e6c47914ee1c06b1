import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeProviders } from '../src/report.ts';

describe("diffq report's providers", () => {
  it("names the decoder's and the feature network's providers after the denoiser's, where the run had them", () => {
    assert.equal(
      describeProviders({ providers: ['cpu', 'cuda'], decoderProviders: ['cuda'], featureProviders: ['webgpu'] }),
      'cpu, cuda; decoder on cuda; feature network on webgpu',
    );
    assert.equal(
      describeProviders({ providers: ['wasm'], decoderProviders: [], featureProviders: ['cpu'] }),
      'wasm; feature network on cpu',
    );
    assert.equal(describeProviders({ providers: ['cpu'], decoderProviders: ['cpu'], featureProviders: [] }), 'cpu; decoder on cpu');
  });

  it('reads a report written before the decoder and feature providers were recorded', () => {
    const old = JSON.parse('{"providers":["cuda"]}');
    assert.equal(describeProviders(old), 'cuda');
  });
});
