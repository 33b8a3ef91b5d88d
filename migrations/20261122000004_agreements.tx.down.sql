DROP TABLE agreement_signatures;
