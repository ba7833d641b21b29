-- Shared trigger functions. Names are resolved at call time.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL,
  row_id bigint,
  action audit_action NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_table_at_idx ON audit_log (table_name, at DESC);

CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  act audit_action := lower(TG_OP)::audit_action;
  rid bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN rid := OLD.id; ELSE rid := NEW.id; END IF;
  INSERT INTO audit_log (table_name, row_id, action) VALUES (TG_TABLE_NAME, rid, act);
  RETURN NULL; -- AFTER trigger; the result is ignored
END;
$fn$;
COMMENT ON FUNCTION audit_row() IS 'Writes one audit_log row per changed row; statement: ''AFTER''.';
