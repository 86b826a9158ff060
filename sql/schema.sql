-- The standardized clinical schema of a site's integrated data source (統合データソース).
--
-- Every cooperating hospital keeps one DuckDB database with these tables. It is modelled on what
-- MID-NET sites hold: EHR orders and lab results, claims (レセプト) and DPC data, coded with the
-- Japanese code systems (YJ and HOT for drugs, ICD-10 and MEDIS for diagnoses, JLAC10 for labs,
-- 診療行為コード for procedures). The data dictionary is docs/schema.md.
--
-- Privacy by construction: no column holds a name, address, postcode, phone number, hospital
-- patient number or clinician identity. `patient_key` is a site-local key that never leaves the
-- site (extraction replaces it with a fresh random person id); of the birth date only the year and
-- month ever leave the site.
--
-- Codes are stored without dots or spaces (ICD-10 `E119`, not `E11.9`).
--
-- Every clinical table has `source_file` and `load_file_id`. `source_file` is the hospital
-- file the row came from, as a path relative to the export's root with any hospital patient id in
-- it replaced by the site's `patient_key` (for `site load`, the loaded file's name); `load_file_id`
-- is the file (`load_file`) its row was loaded from. `site load` always sets both; they are NULL
-- only in rows put in by other means (test fixtures).
--
-- The schema's version is in `schema_version` (docs/schema.md, "Versions and migration"); a site
-- of an older version is migrated in place by `midnet site migrate` (src/site/migrate.rs).

-- The vocabularies below are the schema's own; docs/site-inputs.md maps each source's codes to them.

CREATE TABLE patient (
    patient_key     VARCHAR PRIMARY KEY,
    sex             VARCHAR NOT NULL CHECK (sex IN ('M', 'F')),
    birth_date      DATE NOT NULL,
    death_date      DATE,
    source_file     VARCHAR,
    load_file_id    INTEGER
);

-- Periods in which a data source of the site observes the patient.
CREATE TABLE observation_period (
    patient_key     VARCHAR NOT NULL,
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    start_date      DATE NOT NULL,
    end_date        DATE NOT NULL CHECK (end_date >= start_date),
    source_file     VARCHAR,
    load_file_id    INTEGER
);

CREATE TABLE encounter (
    patient_key     VARCHAR NOT NULL,
    encounter_type  VARCHAR NOT NULL CHECK (encounter_type IN ('outpatient', 'inpatient', 'emergency')),
    start_date      DATE NOT NULL,          -- visit date, or admission date
    end_date        DATE NOT NULL,          -- discharge date; the visit date for a visit
    department      VARCHAR,                -- department code (see docs/schema.md)
    -- Inpatient stays only (DPC 様式1 A000020/A000030, SS-MIX2 PV1-36), when the source carries them.
    admission_route VARCHAR CHECK (admission_route IN ('home', 'other_hospital', 'care_facility', 'ward_transfer', 'other')),
    discharge_destination VARCHAR
                    CHECK (discharge_destination IN ('home', 'other_hospital', 'care_facility', 'died', 'other')),
    discharge_outcome VARCHAR CHECK (discharge_outcome IN ('continuing', 'cured', 'improving', 'remission',
                    'unchanged', 'worsening', 'sequelae', 'died', 'discontinued', 'unknown')),
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER,
    CHECK (end_date >= start_date),
    CHECK (encounter_type = 'inpatient'
           OR (admission_route IS NULL AND discharge_destination IS NULL AND discharge_outcome IS NULL)),
    CHECK ((discharge_destination = 'died') = (discharge_outcome = 'died'))
);

CREATE TABLE diagnosis (
    patient_key     VARCHAR NOT NULL,
    icd10           VARCHAR NOT NULL,       -- ICD-10 without the dot: E119, K716
    medis_code      VARCHAR,                -- MEDIS standard disease code (病名交換用コード), when known
    diagnosis_date  DATE NOT NULL,          -- established (SS-MIX2 PRB-7), start of care (claims SY-3)
    end_date        DATE,                   -- resolved, or the date of its outcome, when known
    disease_outcome VARCHAR CHECK (disease_outcome IN ('continuing', 'cured', 'improving', 'remission', 'unchanged',
                    'worsening', 'sequelae', 'died', 'discontinued', 'unknown')),    -- 転帰
    suspected       BOOLEAN NOT NULL,       -- 疑い病名: a suspected, not confirmed, diagnosis
    main_diagnosis  BOOLEAN NOT NULL,       -- 主病名
    diagnosis_kind  VARCHAR CHECK (diagnosis_kind IN ('admission', 'discharge', 'outpatient', 'preoperative',
                    'postoperative', 'final', 'billing', 'principal', 'admission_trigger', 'most_resources',
                    'second_most_resources', 'comorbidity_at_admission', 'onset_after_admission')),
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER,
    local_system    VARCHAR,                -- the hospital's local code this row's standard code was
    local_code      VARCHAR,                -- mapped from (local_code_map); NULL: the source gave it
    CHECK (end_date >= diagnosis_date)
);

-- Prescriptions and injection orders: what was ordered. An injection order may have no days
-- supplied; what was given, and when, is in `drug_administration`.
CREATE TABLE drug_order (
    patient_key     VARCHAR NOT NULL,
    yj_code         VARCHAR NOT NULL,       -- 12-character YJ code (薬価基準収載医薬品コード)
    hot_code        VARCHAR,                -- HOT9 or HOT13 code, when known
    order_date      DATE NOT NULL,
    start_date      DATE NOT NULL,
    days_supply     INTEGER CHECK (days_supply > 0),    -- NULL only for an injection
    daily_dose      DOUBLE,
    dose_unit       VARCHAR,
    route           VARCHAR NOT NULL CHECK (route IN ('oral', 'injection', 'topical', 'other')),
    setting         VARCHAR NOT NULL CHECK (setting IN ('outpatient', 'inpatient')),
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER,
    local_system    VARCHAR,                -- the hospital's local code this row's standard code was
    local_code      VARCHAR,                -- mapped from (local_code_map); NULL: the source gave it
    CHECK (days_supply IS NOT NULL OR route = 'injection')
);

-- Drug administrations: a dose actually given (SS-MIX2 OMP-11/12 RXA, an injection day of the
-- claims or the DPC EF file), with its amount, infusion rate and times; no days supplied.
CREATE TABLE drug_administration (
    patient_key     VARCHAR NOT NULL,
    yj_code         VARCHAR NOT NULL,
    hot_code        VARCHAR,
    start_time      TIMESTAMP NOT NULL,
    end_time        TIMESTAMP,              -- the end of an infusion, when recorded
    amount          DOUBLE CHECK (amount > 0),
    amount_unit     VARCHAR,
    rate            DOUBLE CHECK (rate > 0),    -- infusion rate
    rate_unit       VARCHAR,                -- e.g. mL/h
    route           VARCHAR NOT NULL CHECK (route IN ('oral', 'injection', 'topical', 'other')),
    setting         VARCHAR NOT NULL CHECK (setting IN ('outpatient', 'inpatient')),
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER,
    local_system    VARCHAR,                -- the hospital's local code this row's standard code was
    local_code      VARCHAR,                -- mapped from (local_code_map); NULL: the source gave it
    CHECK (end_time >= start_time),
    CHECK (amount IS NULL OR amount_unit IS NOT NULL),
    CHECK (rate IS NULL OR rate_unit IS NOT NULL)
);

-- Lab results. `value`, `unit`, `ref_low` and `ref_high` are in the lab master's canonical unit of
-- the analyte, converted at load; `reported_value` and `reported_unit` keep what the site reported
-- (Japanese labs often report platelets in 10^4/uL, the canonical unit is 10^3/uL).
CREATE TABLE lab_result (
    patient_key     VARCHAR NOT NULL,
    jlac10          VARCHAR NOT NULL CHECK (length(jlac10) = 17),
    specimen        VARCHAR CHECK (specimen = substr(jlac10, 10, 3)),   -- JLAC10 material code (SS-MIX2 SPM-4)
    result_time     TIMESTAMP NOT NULL,
    value           DOUBLE,                 -- NULL when the result is not numeric
    unit            VARCHAR,
    ref_low         DOUBLE,                 -- the reporting site's reference range
    ref_high        DOUBLE,
    abnormal_flag   VARCHAR CHECK (abnormal_flag IN ('H', 'L', 'N')),
    value_text      VARCHAR,                -- the raw text where the value is not numeric
    reported_value  DOUBLE,
    reported_unit   VARCHAR,
    result_status   VARCHAR CHECK (result_status IN ('final', 'preliminary', 'corrected', 'cancelled')),
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER,
    local_system    VARCHAR,                -- the hospital's local code this row's standard code was
    local_code      VARCHAR,                -- mapped from (local_code_map); NULL: the source gave it
    CHECK (ref_low IS NULL OR ref_high IS NULL OR ref_low <= ref_high)
);

CREATE TABLE procedure (
    patient_key     VARCHAR NOT NULL,
    procedure_code  VARCHAR NOT NULL,       -- 9-digit claims procedure code (診療行為コード)
    procedure_date  DATE NOT NULL,
    source          VARCHAR NOT NULL CHECK (source IN ('EHR', 'CLAIMS', 'DPC')),
    source_file     VARCHAR,
    load_file_id    INTEGER
);

-- Masters, distributed by the data center and loaded by `midnet site init`.

CREATE TABLE drug_master (
    yj_code         VARCHAR PRIMARY KEY,
    ingredient      VARCHAR NOT NULL,
    atc             VARCHAR,
    drug_class      VARCHAR NOT NULL,       -- therapeutic class, for reading and for synthesis
    route           VARCHAR NOT NULL
);

-- JLAC10 analyte code (characters 1-5) and specimen code (characters 10-12) name an analyte;
-- the same analyte in another specimen (urine creatinine) is another row.
CREATE TABLE lab_master (
    analyte_code    VARCHAR NOT NULL,
    specimen_code   VARCHAR NOT NULL,
    analyte         VARCHAR NOT NULL,       -- short id used by scripts and reports: alt, creatinine
    name            VARCHAR NOT NULL,
    canonical_unit  VARCHAR NOT NULL,
    PRIMARY KEY (analyte_code, specimen_code)
);

-- canonical value = reported value * factor
CREATE TABLE unit_conversion (
    analyte_code    VARCHAR NOT NULL,
    from_unit       VARCHAR NOT NULL,
    factor          DOUBLE NOT NULL,
    PRIMARY KEY (analyte_code, from_unit)
);

CREATE TABLE icd10_master (
    code            VARCHAR PRIMARY KEY,
    description     VARCHAR NOT NULL
);

-- The official code masters, as `midnet site masters import` reads them from their published files
-- (src/site/masters/, docs/site-inputs.md §2). Every file imported is a row of `master_file`, and
-- its rows stay, beside those of earlier and later publications: a code's row of the latest
-- publication holding it is its current one; an abolished code keeps its dates and successor.
-- Columns are named after the published fields (docs/site-inputs.md gives each one's column).

CREATE TABLE master_file (
    master_file_id  INTEGER PRIMARY KEY,
    data_version    INTEGER NOT NULL,       -- the import's data version
    imported_at     TIMESTAMP NOT NULL,
    kind            VARCHAR NOT NULL CHECK (kind IN ('hot13', 'hot9', 'drug', 'disease', 'modifier', 'procedure')),
    file            VARCHAR NOT NULL,       -- the path as given to `site masters import`
    sha256          VARCHAR NOT NULL UNIQUE,
    published       DATE NOT NULL,          -- the latest change date in the file (the modifier master: its name's)
    rows            BIGINT NOT NULL
);

-- MEDIS HOT master (HOT13 and HOT9 files): HOT code → YJ and レセプト電算 drug code.
CREATE TABLE master_hot (
    master_file_id  INTEGER NOT NULL,
    hot_code        VARCHAR NOT NULL,       -- 1 基準番号（ＨＯＴコード）: 13 or 9 digits
    hot7            VARCHAR,                -- 2 処方用番号（ＨＯＴ７）
    price_listing_code VARCHAR,             -- 7 薬価基準収載医薬品コード
    yj_code         VARCHAR,                -- 8 個別医薬品コード
    receipt_code    VARCHAR,                -- 9 レセプト電算処理システムコード（１）
    receipt_code_2  VARCHAR,                -- 10 同（２）
    notice_name     VARCHAR,                -- 11 告示名称
    brand_name      VARCHAR,                -- 12 販売名
    standard_unit   VARCHAR,                -- 14 規格単位
    updated         DATE,                   -- 24 更新年月日
    PRIMARY KEY (master_file_id, hot_code)
);

-- 支払基金 医薬品マスター (y): レセプト電算 drug code → YJ, dosage form, unit.
CREATE TABLE master_drug (
    master_file_id  INTEGER NOT NULL,
    drug_code       VARCHAR NOT NULL,       -- 3 医薬品コード (9 digits, 6…)
    name            VARCHAR,                -- 5 漢字名称
    unit_code       VARCHAR,                -- 8 単位コード
    unit_name       VARCHAR,                -- 10 単位名
    generic         VARCHAR,                -- 17 後発品
    dosage_form     VARCHAR,                -- 28 剤形: 1 内用, 3 その他, 4 注射, 6 外用, 8 歯科
    changed         DATE,                   -- 30 変更年月日
    abolished       DATE,                   -- 31 廃止年月日 (none: in use)
    yj_code         VARCHAR,                -- 32 薬価基準収載医薬品コード
    base_name       VARCHAR,                -- 35 基本漢字名称
    PRIMARY KEY (master_file_id, drug_code)
);

-- 支払基金 傷病名マスター (b): 傷病名コード → 病名管理番号, 病名交換用コード, ICD-10.
CREATE TABLE master_disease (
    master_file_id  INTEGER NOT NULL,
    disease_code    VARCHAR NOT NULL,       -- 3 傷病名コード (7 digits)
    successor_code  VARCHAR,                -- 4 移行先コード
    name            VARCHAR,                -- 6 基本名称
    management_number VARCHAR,              -- 11 病名管理番号 (8 digits)
    exchange_code   VARCHAR,                -- 13 病名交換用コード
    icd10_2003_1    VARCHAR,                -- 14 ICD-10-1 (2003)
    icd10_2003_2    VARCHAR,                -- 15 ICD-10-2 (2003)
    icd10_2013_1    VARCHAR,                -- 16 ICD-10-1 (2013)
    icd10_2013_2    VARCHAR,                -- 17 ICD-10-2 (2013)
    listed          DATE,                   -- 22 収載年月日
    changed         DATE,                   -- 23 変更年月日
    abolished       DATE,                   -- 24 廃止年月日
    successor_management_number VARCHAR,    -- 38 移行先病名管理番号
    PRIMARY KEY (master_file_id, disease_code)
);

-- 支払基金 修飾語マスター (z): 修飾語コード (`8002` の疑い) → 管理番号, kind.
CREATE TABLE master_modifier (
    master_file_id  INTEGER NOT NULL,
    modifier_code   VARCHAR NOT NULL,       -- 3 修飾語コード (4 digits)
    name            VARCHAR,                -- 7 名称
    management_number VARCHAR,              -- 17 修飾語管理番号
    exchange_code   VARCHAR,                -- 18 交換用コード
    modifier_kind   VARCHAR,                -- 19 区分
    PRIMARY KEY (master_file_id, modifier_code)
);

-- 支払基金 医科診療行為マスター (s): 診療行為コード → 点数表 section.
CREATE TABLE master_procedure (
    master_file_id  INTEGER NOT NULL,
    procedure_code  VARCHAR NOT NULL,       -- 3 診療行為コード (9 digits, 1…)
    name            VARCHAR,                -- 5 省略名称
    unit_code       VARCHAR,                -- 8 データ規格コード
    point_kind      VARCHAR,                -- 11 点数識別
    points          VARCHAR,                -- 12 点数
    table_letter    VARCHAR,                -- 85 コード表用番号 (alphabetic part: K, D…; * none)
    changed         DATE,                   -- 87 変更年月日
    abolished       DATE,                   -- 88 廃止年月日
    chapter         VARCHAR,                -- 90 章
    part            VARCHAR,                -- 91 部
    section_number  VARCHAR,                -- 92 区分番号
    branch          VARCHAR,                -- 93 枝番
    item            VARCHAR,                -- 94 項番
    PRIMARY KEY (master_file_id, procedure_code)
);

-- Each code's current row: its row in the file of the latest publication that holds it (of two
-- files of one date, the later imported). A code the latest publication no longer lists keeps its
-- last row, whose abolished date and successor say until when it held.
CREATE VIEW current_master_hot AS
    SELECT m.* FROM master_hot m JOIN master_file f USING (master_file_id)
    QUALIFY row_number() OVER (PARTITION BY m.hot_code ORDER BY f.published DESC, f.master_file_id DESC) = 1;
CREATE VIEW current_master_drug AS
    SELECT m.* FROM master_drug m JOIN master_file f USING (master_file_id)
    QUALIFY row_number() OVER (PARTITION BY m.drug_code ORDER BY f.published DESC, f.master_file_id DESC) = 1;
CREATE VIEW current_master_disease AS
    SELECT m.* FROM master_disease m JOIN master_file f USING (master_file_id)
    QUALIFY row_number() OVER (PARTITION BY m.disease_code ORDER BY f.published DESC, f.master_file_id DESC) = 1;
CREATE VIEW current_master_modifier AS
    SELECT m.* FROM master_modifier m JOIN master_file f USING (master_file_id)
    QUALIFY row_number() OVER (PARTITION BY m.modifier_code ORDER BY f.published DESC, f.master_file_id DESC) = 1;
CREATE VIEW current_master_procedure AS
    SELECT m.* FROM master_procedure m JOIN master_file f USING (master_file_id)
    QUALIFY row_number() OVER (PARTITION BY m.procedure_code ORDER BY f.published DESC, f.master_file_id DESC) = 1;

-- Bookkeeping.

-- The version of this schema the database holds: one row. A database without the table is of
-- version 1 (the schema before versions were kept).
CREATE TABLE schema_version (
    version         INTEGER NOT NULL
);
INSERT INTO schema_version VALUES (8);

-- One row per change of the data: a data version, which extraction manifests cite. A load that
-- brought rows in (`change` = 'load'), an import of official masters ('masters', the files' kinds
-- and dates in `note`), or a migration to a new schema version ('migration', with the versions in
-- `note`), a mapping of local codes ('mapping', the mapping file in `note`). A load that brings in
-- nothing new (every file loaded before, or every row bad) makes none.
CREATE TABLE load_history (
    data_version    INTEGER PRIMARY KEY,
    loaded_at       TIMESTAMP NOT NULL,
    midnet_version  VARCHAR NOT NULL,
    rows_loaded     BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    change          VARCHAR NOT NULL DEFAULT 'load' CHECK (change IN ('load', 'masters', 'migration', 'mapping')),
    note            VARCHAR
);

-- One row per file a load read. Every row of a clinical table and of the quarantine names its
-- file by `load_file_id`. A file whose SHA-256 is here is skipped by later loads.
CREATE TABLE load_file (
    load_file_id    INTEGER PRIMARY KEY,
    data_version    INTEGER,                -- NULL when its load brought no row in
    loaded_at       TIMESTAMP NOT NULL,
    table_name      VARCHAR NOT NULL,
    file            VARCHAR NOT NULL,       -- the path as given to `site load`
    sha256          VARCHAR NOT NULL UNIQUE,
    rows_loaded     BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL
);

-- One row per file of an SS-MIX2 standardized storage that `site import ss-mix2` read
-- (docs/ss-mix2.md). Nothing in it identifies: the file's relative path holds the hospital's
-- patient id, so the file is known by the keyed hash of that path (`path_key`, HMAC-SHA256 under
-- `SITE/keys/patient.key`) and by its path with the id replaced by the patient key
-- (`source_file`, what its rows record). A later import takes a file whose size and modification
-- time equal its record as unchanged without reading it, and reads it again only if its size or
-- SHA-256 changed; a file no longer current (superseded, deleted, or gone) has its rows withdrawn
-- and `withdrawn` set.
CREATE TABLE ssmix2_file (
    path_key        VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,
    patient_key     VARCHAR NOT NULL,
    data_kind       VARCHAR NOT NULL,       -- e.g. OMP-01
    bytes           BIGINT NOT NULL,
    sha256          VARCHAR NOT NULL,
    data_version    INTEGER NOT NULL,       -- the import that read it
    outcome         VARCHAR NOT NULL CHECK (outcome IN ('read', 'skipped', 'quarantined')),
    withdrawn       INTEGER,                -- the data version that withdrew it; NULL: current
    modified_ns     BIGINT                  -- its modification time (ns since 1970) when last hashed; NULL: hash it
);

-- One row per claims file (RECEIPTC.UKE) that `site import receipt` read (docs/claims.md). A file
-- is known by its SHA-256 (one read before is skipped) and by what it is: the monthly submission
-- of the 審査支払機関 `payer` (IR-2) for the billing month `billing_month` (IR-8). A file of the
-- same payer and billing month as one the site holds replaces it: the earlier file's rows are
-- withdrawn and `withdrawn` set. `source_file` is what its rows record (no part of the file's path,
-- which a hospital may have named after anything).
CREATE TABLE receipt_file (
    sha256          VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,       -- receipt/<payer>/<YYYYMM>/<first 16 digits of sha256>
    payer           VARCHAR NOT NULL,
    billing_month   VARCHAR NOT NULL,       -- YYYY-MM
    bytes           BIGINT NOT NULL,
    receipts        BIGINT NOT NULL,
    totals_mismatches BIGINT NOT NULL,      -- receipts' and the file's totals that do not add up
    data_version    INTEGER NOT NULL,       -- the import that read it
    withdrawn       INTEGER                 -- the data version that withdrew it; NULL: current
);

-- One row per DPC file (様式1 or EF統合ファイル) that `site import dpc` read (docs/claims.md, "DPC"). A
-- file is known by its SHA-256 (one read before is skipped) and by what it is: its kind, its
-- facility (the keyed hash of the 施設コード) and its month (様式1: of its stays' discharges; EF: of
-- its items' 実施年月日). A file of the same kind, facility and month as one the site holds replaces
-- it: the earlier file's rows are withdrawn and `withdrawn` set.
CREATE TABLE dpc_file (
    sha256          VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,       -- dpc/<ff1|ef|efg>/<facility_key>/<YYYYMM>/<first 16 digits of sha256>
    kind            VARCHAR NOT NULL CHECK (kind IN ('様式1', 'EF', 'EFg')),   -- EFg: outpatients' EF (version 8)
    facility_key    VARCHAR NOT NULL,       -- the keyed hash of the 施設コード, 12 digits
    month           VARCHAR NOT NULL,       -- YYYY-MM
    bytes           BIGINT NOT NULL,
    stays           BIGINT NOT NULL,        -- 様式1: the parent 様式1's stays read
    items           BIGINT NOT NULL,        -- EF: the detail lines read
    data_version    INTEGER NOT NULL,       -- the import that read it
    withdrawn       INTEGER                 -- the data version that withdrew it; NULL: current
);

-- Each diagnosis (SY) of a current claims file, month by month: a claim repeats a diagnosis on
-- every monthly receipt while it is current, and `diagnosis` holds it once, with its latest
-- outcome; when a file is withdrawn or added, a patient's claims diagnoses are rebuilt from these.
CREATE TABLE receipt_diagnosis (
    source_file     VARCHAR NOT NULL,
    line            BIGINT NOT NULL,
    patient_key     VARCHAR NOT NULL,
    disease_code    VARCHAR NOT NULL,       -- SY-2, 傷病名コード
    icd10           VARCHAR NOT NULL,       -- through the disease master when the file was read
    care_month      DATE NOT NULL,          -- RE-4, its first day
    start_date      DATE NOT NULL,          -- SY-3
    outcome         VARCHAR NOT NULL,       -- SY-4 in the schema's words
    suspected       BOOLEAN NOT NULL,       -- SY-5 holds 8002 (の疑い)
    main_diagnosis  BOOLEAN NOT NULL        -- SY-7 = 01
);

-- Each receipt (RE) of a current claims file: a patient's month of care, and whether it bills a
-- stay. A claim observes a patient in the months it has receipts of them, and bills a stay month by
-- month, each inpatient receipt naming the admission (RE-9) and never the discharge; when a file is
-- withdrawn or added, a patient's CLAIMS observation period and stays are rebuilt from these.
CREATE TABLE receipt_month (
    source_file     VARCHAR NOT NULL,
    line            BIGINT NOT NULL,        -- the RE's
    patient_key     VARCHAR NOT NULL,
    care_month      DATE NOT NULL,          -- RE-4, its first day
    inpatient       BOOLEAN NOT NULL,       -- RE-3's last digit is odd
    admitted        DATE,                   -- RE-9, of an inpatient receipt that has a readable one
    last_billed     DATE                    -- the last day of the month with a count on any of its records
);

-- Rows that failed validation at load, with where they came from and why. Nothing is dropped
-- silently, and nothing of the row is kept: a value may be a name typed into the wrong column or the
-- hospital's patient id, so each reason is stored with every value replaced by `…`
-- (src/site/load/reasons.rs), and the file at its line holds the row.
CREATE TABLE quarantine (
    data_version    INTEGER,                -- NULL when its load brought no row in
    load_file_id    INTEGER NOT NULL,
    table_name      VARCHAR NOT NULL,
    file            VARCHAR NOT NULL,
    line            BIGINT NOT NULL,        -- line in the file, the header being line 1
    reason          VARCHAR NOT NULL        -- every reason, each naming its field, joined by '; '
);

-- The site's approvals (src/site/approve.rs, docs/extraction.md): each covers one project, one
-- script bundle (by content hash) and its parameters other than the cut-off. Rows are never
-- deleted; a revocation is written onto the row. A site made by an older midnet, whose table has
-- no `project`, keeps those rows in `script_approval_unbound` after its next `site approve`.
CREATE TABLE script_approval (
    approval_id     INTEGER PRIMARY KEY,
    project         VARCHAR NOT NULL,       -- the data center's project id
    script_sha256   VARCHAR NOT NULL,
    study           VARCHAR NOT NULL,
    params_json     VARCHAR NOT NULL,       -- parameters other than the cut-off, canonical JSON
    approved_by     VARCHAR NOT NULL,       -- the site staff member who approved (`--by`)
    os_user         VARCHAR NOT NULL,       -- the operating-system account that ran the command
    approved_at     TIMESTAMP NOT NULL,     -- UTC
    valid_until     DATE,                   -- the last day covered, by the site's calendar; NULL: until revoked
    revoked_at      TIMESTAMP,              -- UTC
    revoked_by      VARCHAR,
    revoked_os_user VARCHAR,
    midnet_version  VARCHAR NOT NULL
);

-- Local codes (docs/site-inputs.md §3). A row of a hospital's file that names its drug, lab test or
-- disease by the hospital's own code (`local_code`, in its `local_system`) and not by a standard
-- one waits here, kept, until a decision of `local_code_map` maps its code; then it is validated and
-- brought into its table as a load would bring it (with the mapped code, `local_system` and
-- `local_code` set). It stays here after, so that a later decision for its code moves it. Nothing
-- that identifies is kept: the row's fields are those `site load` accepts.
CREATE TABLE local_row (
    table_name      VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL CHECK (kind IN ('drug', 'lab', 'disease')),
    local_system    VARCHAR NOT NULL,       -- 'local' when the file names none
    local_code      VARCHAR NOT NULL,
    local_text      VARCHAR,                -- the code's name as the hospital writes it
    unit            VARCHAR,                -- the row's unit (dose, amount or result unit)
    row_date        DATE NOT NULL,          -- the row's date (diagnosis, order, administration, result)
    fields          JSON NOT NULL,          -- the row's fields as the file held them, by column name
    load_file_id    INTEGER NOT NULL,
    source_file     VARCHAR NOT NULL,
    file            VARCHAR NOT NULL,       -- the path as given to `site load` (as in `quarantine`)
    line            BIGINT NOT NULL,        -- line in the file, the header being line 1
    data_version    INTEGER NOT NULL,       -- the load that brought it
    brought_in      INTEGER                 -- the data version that brought it into its table (or its
                                            -- quarantine); NULL: waiting for a mapping
);

-- The site's decisions mapping a local code to a standard one (`midnet site mapping import`): one row
-- per decision, never changed; the latest decision for a code holds (`current_local_code_map`).
-- The standard code is YJ for a drug, JLAC10 for a lab test, ICD-10 for a disease.
CREATE TABLE local_code_map (
    decision_id     INTEGER PRIMARY KEY,
    kind            VARCHAR NOT NULL CHECK (kind IN ('drug', 'lab', 'disease')),
    local_system    VARCHAR NOT NULL,
    local_code      VARCHAR NOT NULL,
    standard_code   VARCHAR NOT NULL,
    reason          VARCHAR,                -- why, as the reviewer wrote it
    mapped_by       VARCHAR NOT NULL,       -- the site staff member (`--by`)
    os_user         VARCHAR NOT NULL,       -- the operating-system account that ran the import
    mapped_at       TIMESTAMP NOT NULL,     -- UTC
    file            VARCHAR NOT NULL,       -- the mapping file, as given
    line            BIGINT NOT NULL,        -- its line there
    data_version    INTEGER NOT NULL
);
CREATE VIEW current_local_code_map AS
    SELECT * FROM local_code_map
    QUALIFY row_number() OVER (PARTITION BY kind, local_system, local_code ORDER BY decision_id DESC) = 1;

-- What each data version that changed the clinical rows left, per table and source: rows in the
-- table, those of them mapped from local codes, and rows waiting for a mapping. `site check`
-- compares the latest with the one before.
CREATE TABLE quality_history (
    data_version    INTEGER NOT NULL,
    table_name      VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    rows            BIGINT NOT NULL,
    mapped          BIGINT NOT NULL,
    waiting         BIGINT NOT NULL,
    PRIMARY KEY (data_version, table_name, source)
);
