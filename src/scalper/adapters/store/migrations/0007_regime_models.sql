-- Daily regime models: each fit (coefficients, inputs, settings) and each walk-forward evaluation,
-- keyed by the model version (which changes with the inputs, the parameters or the code).

CREATE TABLE regime_models (
    model_version text        NOT NULL,
    symbol        text        NOT NULL,
    checkpoint    text        NOT NULL,            -- 10:00, 10:30 ... (New York time)
    train_last    date        NOT NULL,            -- last session the fit saw
    train_first   date        NOT NULL,
    label_version text        NOT NULL,            -- the label rule the fit learned from
    params        jsonb       NOT NULL,            -- inputs, standardisation, weights, settings
    fitted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, symbol, checkpoint, train_last)
);

CREATE TABLE regime_evaluations (
    model_version     text             NOT NULL,
    symbol            text             NOT NULL,
    checkpoint        text             NOT NULL,
    first_day         date             NOT NULL,   -- first predicted session
    last_day          date             NOT NULL,   -- last predicted session
    n                 integer          NOT NULL,
    accuracy          double precision NOT NULL,
    baseline_accuracy double precision NOT NULL,   -- most frequent actual class
    brier             double precision NOT NULL,   -- multi-class Brier score (0 best, 2 worst)
    climatology_brier double precision NOT NULL,   -- predicting the training class frequencies
    evaluation        jsonb            NOT NULL,   -- confusion matrix, reliability, settings
    computed_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, symbol, checkpoint, first_day, last_day),
    CHECK (n > 0 AND accuracy BETWEEN 0 AND 1 AND baseline_accuracy BETWEEN 0 AND 1 AND brier BETWEEN 0 AND 2)
);
CREATE INDEX regime_evaluations_latest ON regime_evaluations (symbol, checkpoint, computed_at DESC);
