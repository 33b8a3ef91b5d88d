DROP TABLE seed_marks;
